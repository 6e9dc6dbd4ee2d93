import type { FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden } from '../domain/errors.js';

const METHODS = 'GET, POST, PUT, DELETE, OPTIONS';
const MAX_AGE_SECONDS = '600';

function allowedOrigin(request: FastifyRequest, allowed: readonly RegExp[]): string | undefined {
  const origin = request.headers.origin;
  if (typeof origin !== 'string' || origin === '') return undefined;
  return allowed.some((re) => re.test(origin)) ? origin : undefined;
}

/**
 * Kuma's CORS filter (KUMA_API_SERVER_CORS_ALLOWED_DOMAINS; ours MESHCP_API_CORS_ALLOWED_DOMAINS): an allowed origin
 * is echoed on every answer and its preflights are answered before authentication. Nothing else changes: a
 * browser page on another origin is not a localhost admin, so it needs the admin token as any remote caller.
 */
export function installCors(app: FastifyInstance, allowed: readonly RegExp[]): void {
  if (allowed.length === 0) return;
  app.addHook('onRequest', async (request, reply) => {
    const origin = allowedOrigin(request, allowed);
    if (!origin) return;
    reply
      .header('access-control-allow-origin', origin)
      .header('vary', 'Origin')
      .header('access-control-expose-headers', 'Access-Control-Allow-Origin, ETag, Retry-After');
  });
  app.options('*', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const origin = allowedOrigin(request, allowed);
    if (!origin)
      throw forbidden(
        `origin ${JSON.stringify(request.headers.origin ?? '')} is not allowed (MESHCP_API_CORS_ALLOWED_DOMAINS)`,
      );
    const requested = request.headers['access-control-request-headers'];
    return reply
      .status(204)
      .header('access-control-allow-methods', METHODS)
      .header(
        'access-control-allow-headers',
        typeof requested === 'string' && requested !== '' ? requested : 'Authorization, Content-Type',
      )
      .header('access-control-max-age', MAX_AGE_SECONDS)
      .send();
  });
}
