import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Clock } from '../domain/clock.js';
import type { Services } from '../services.js';
import type { ConnectionGate } from './connection-gate.js';
import { requestIdGenerator } from './request-ids.js';

/** How long one rendering of /metrics is served: Prometheus scrapes every 15 s or more; 32 scrapers cost one. */
export const METRICS_CACHE_MS = 1_000;
/** A scrape is one small GET: nothing on this listener needs the API's long-poll bounds. */
const DIAGNOSTICS_REQUEST_TIMEOUT_MS = 10_000;

/**
 * One rendering in flight at a time, reused for `METRICS_CACHE_MS` of the injected clock: concurrent scrapers wait
 * for the same text instead of each reading the store and serialising every series.
 */
class CachedRendering {
  private cached?: { at: number; text: string };
  private pending?: Promise<string>;

  constructor(
    private readonly render: () => Promise<string>,
    private readonly clock: Clock,
    private readonly ttlMs = METRICS_CACHE_MS,
  ) {}

  get(): Promise<string> {
    const now = this.clock.now();
    if (this.cached && now >= this.cached.at && now - this.cached.at < this.ttlMs)
      return Promise.resolve(this.cached.text);
    this.pending ??= this.render()
      .then((text) => {
        this.cached = { at: now, text };
        return text;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}

/**
 * Kuma's diagnostics port: Prometheus metrics and liveness, apart from the API (no auth). It shows counts and CA
 * expiry dates only, no names of dataplanes, so it may be exposed to a scraper; bind it with the API. Its sockets go
 * through the API's connection gate (per-address cap, first-byte timeout, counted in MESHCP_API_MAX_CONNECTIONS) and
 * get the API's header, keep-alive and idle timeouts: idle sockets here must not take the descriptors the API needs.
 */
export async function buildDiagnosticsApp(
  services: Services,
  options: { connectionGate?: ConnectionGate } = {},
): Promise<FastifyInstance> {
  const { config } = services;
  const app = Fastify({
    loggerInstance: services.log.child({ listener: 'diagnostics' }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestIdGenerator('diagnostics'),
    requestTimeout: DIAGNOSTICS_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionTimeout: config.idleTimeoutMs,
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = config.headersTimeoutMs;
  options.connectionGate?.guard(app.server, false);
  services.metrics.collectProcessMetrics();
  const rendering = new CachedRendering(() => services.metrics.registry.metrics(), services.clock);
  app.get('/metrics', async (_request, reply) => {
    const body = await rendering.get();
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
