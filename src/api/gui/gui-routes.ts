import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { guiSnapshot } from './gui-state.js';

/** The longest a page's poll waits for a change (below every idle timeout), and how often it looks meanwhile. */
const LONG_POLL_MS = 25_000;
const CHECK_EVERY_MS = 500;

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'gui.js': 'text/javascript; charset=utf-8',
  'gui.css': 'text/css; charset=utf-8',
};

/** The static files sit next to this module in src/; a build in dist/ reads them from src/ too. */
function assetDir(): string {
  const here = fileURLToPath(new URL('./static/', import.meta.url));
  return existsSync(here) ? here : fileURLToPath(new URL('../../../src/api/gui/static/', import.meta.url));
}

// No inline script or style: the page can run nothing it did not load from here, and a dataplane name is only text.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * GET /gui: a read-only page of meshes, CA backends, rotation progress and dataplanes, live through a long-poll
 * on /gui/api/state (admin access, as the JSON API it reads). The static files are public: they hold no data.
 */
export function registerGui(app: FastifyInstance, services: Services): void {
  const dir = assetDir();
  const files = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(dir + name) }]));
  const serve = (name: string) => async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const file = files.get(name)!;
    return reply.headers(SECURITY_HEADERS).type(file.type).send(file.body);
  };
  const hidden = { config: { access: 'public' as const }, schema: { hide: true } };
  app.get('/gui', hidden, serve('index.html'));
  app.get('/gui/', hidden, serve('index.html'));
  app.get('/gui/gui.js', hidden, serve('gui.js'));
  app.get('/gui/gui.css', hidden, serve('gui.css'));

  app.get<{ Querystring: { since?: string } }>('/gui/api/state', { schema: { hide: true } }, async (request, reply) => {
    const since = typeof request.query.since === 'string' ? request.query.since : undefined;
    let snapshot = await guiSnapshot(services, services.clock.now());
    const gone = new AbortController();
    request.raw.once('close', () => gone.abort());
    const deadline = services.clock.now() + LONG_POLL_MS;
    while (
      since !== undefined &&
      snapshot.version === since &&
      services.clock.now() < deadline &&
      !gone.signal.aborted
    ) {
      // Progress is mostly dataplanes acknowledging and re-issuing, which emit no event: look every 500 ms.
      await new Promise((resolve) => setTimeout(resolve, CHECK_EVERY_MS));
      snapshot = await guiSnapshot(services, services.clock.now());
    }
    return reply.header('cache-control', 'no-store').send(snapshot);
  });
}
