import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { requestIdGenerator } from './request-ids.js';

/**
 * Kuma's diagnostics port: Prometheus metrics and liveness, apart from the API (no auth, no API limits). It shows
 * counts and CA expiry dates only, no names of dataplanes, so it may be exposed to a scraper; bind it with the API.
 */
export async function buildDiagnosticsApp(services: Services): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.log.child({ listener: 'diagnostics' }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestIdGenerator('diagnostics'),
  }) as unknown as FastifyInstance;
  services.metrics.collectProcessMetrics();
  app.get('/metrics', async (_request, reply) => {
    const body = await services.metrics.registry.metrics();
    return reply.type(services.metrics.registry.contentType).send(body);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  // Both names, as on the API port: /ready (Kuma's diagnostics) and /readyz.
  for (const path of ['/ready', '/readyz']) {
    app.get(path, async (_request, reply) => {
      const ready = await services.ready();
      return ready.ok ? { status: 'ok' } : reply.status(503).send({ status: 'not ready', reason: ready.reason });
    });
  }
  return app;
}
