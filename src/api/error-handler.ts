import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError } from '../domain/errors.js';
import { errorBody, HTTP_OF_KIND } from './error-body.js';

interface FrameworkErrorMapping {
  status: number;
  title: string;
  detail: (err: FastifyError) => string;
}

/** Fastify's own errors (body parsing, limits) in the contract's words. */
const FRAMEWORK_ERRORS: Record<string, FrameworkErrorMapping> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    title: 'Request Entity Too Large',
    detail: () => 'request body is larger than the 1 MiB limit',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported Media Type',
    detail: () => 'send the body as application/json or application/yaml (text/yaml, application/x-yaml)',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, title: 'Bad Request', detail: () => 'request body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, title: 'Bad Request', detail: () => 'invalid Content-Length' },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, title: 'Bad Request', detail: () => 'invalid Content-Type' },
};

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof DomainError) {
      const { status, title } = HTTP_OF_KIND[err.kind];
      if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
      // The caller hears "unavailable, retry"; the operator's log says why (an address, a driver message).
      if (err.kind === 'unavailable' && err.cause instanceof Error)
        request.log.warn({ cause: err.cause.message }, err.detail);
      return reply.status(status).send(errorBody(status, err.title ?? title, err.detail, err.violations));
    }
    const known = err.code ? FRAMEWORK_ERRORS[err.code] : undefined;
    if (known) return reply.status(known.status).send(errorBody(known.status, known.title, known.detail(err), []));
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply
        .status(err.statusCode)
        .send(errorBody(err.statusCode, 'Bad Request', 'the request cannot be processed', []));
    }
    request.log.error({ err }, 'unexpected failure');
    return reply.status(500).send(errorBody(500, 'Internal Server Error', 'Internal Server Error', []));
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send(errorBody(404, 'Not Found', `no such route: ${request.method} ${request.url.split('?')[0]}`, []));
  });
}
