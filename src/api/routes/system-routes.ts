import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { DomainError, meshNotFound, notFound, Titles } from '../../domain/errors.js';
import { globalInsight, meshInsight } from '../../dataplanes/insights.js';
import { rotationStatus } from '../../rotation/rotation-status.js';
import { identityStatus } from '../../identity/identity-status.js';
import { listBody, parseListQuery } from '../list-query.js';
import { GlobalInsightSchema, listOf, MeshInsightSchema, RotationStatusSchema } from '../../contract/index.js';
import { docs } from '../openapi-docs.js';
import { VERSION } from '../../version.js';

const publicRoute = { access: 'public' as const };

export function registerSystemRoutes(app: FastifyInstance, services: Services): void {
  app.get('/', { config: publicRoute, schema: docs.custom('System', "Index, as Kuma's") }, async () => ({
    hostname: hostname(),
    product: 'meshcp',
    version: VERSION,
    instanceId: services.instanceId,
    clusterId: services.instanceId,
    gui: '/gui',
  }));
  app.get('/healthz', { config: publicRoute, schema: docs.custom('System', 'The process is alive') }, async () => ({
    status: 'ok',
  }));
  const readiness = async () => {
    const ready = await services.ready();
    if (!ready.ok)
      throw new DomainError({ kind: 'unavailable', title: 'Not ready', detail: ready.reason, retryAfterSeconds: 1 });
    return { status: 'ok' };
  };
  // Both names on both listeners (the diagnostics port too): /readyz as Kubernetes probes spell it, /ready as Kuma's.
  for (const path of ['/readyz', '/ready']) {
    app.get(
      path,
      {
        config: publicRoute,
        schema: docs.custom('System', 'The store answers (503 while it does not: the process stays up)'),
      },
      readiness,
    );
  }

  app.post(
    '/tokens/dataplane',
    { schema: docs.custom('Tokens', 'Issue a dataplane token (text/plain JWT)') },
    async (request, reply) => reply.type('text/plain').send(await services.tokens.issue(request.body)),
  );

  const window = services.config.dpOnlineWindowMs;
  const insightOf = async (name: string, now: number) => {
    const mesh = await services.store.resources.get('Mesh', '', name);
    if (!mesh) return undefined;
    const fleet = await services.store.fleet.counts(name, now, window);
    const dataplanes = Object.values(fleet.byType).reduce((n, t) => n + t.total, 0);
    const resources = { Dataplane: dataplanes, Secret: await services.store.resources.count('Secret', name) };
    return meshInsight(mesh, fleet, resources);
  };
  app.get(
    '/global-insight',
    {
      schema: docs.custom(
        'Insights',
        "Kuma's GlobalInsight: counts over every mesh",
        docs.answers(GlobalInsightSchema, 'the global insight'),
      ),
    },
    async () => {
      const now = services.clock.now();
      const fleet = await services.store.fleet.counts(undefined, now, window);
      const meshes = await services.store.resources.count('Mesh', '');
      const dataplanes = Object.values(fleet.byType).reduce((n, t) => n + t.total, 0);
      return globalInsight(fleet, meshes, { Mesh: meshes, Dataplane: dataplanes }, now);
    },
  );
  app.get(
    '/mesh-insights',
    {
      schema: docs.custom(
        'Insights',
        'Insights of every mesh',
        docs.answers(listOf(MeshInsightSchema), 'the insights of the meshes, a page at a time'),
      ),
    },
    async (request) => {
      const query = parseListQuery(request);
      const now = services.clock.now();
      const page = services.meshes.list(query);
      return listBody(request, query, page, async (mesh) => (await insightOf(mesh.name, now))!);
    },
  );
  app.get<{ Params: { mesh: string } }>(
    '/mesh-insights/:mesh',
    { schema: docs.custom('Insights', 'Insight of one mesh', docs.answers(MeshInsightSchema, "Kuma's MeshInsight")) },
    async (request) => {
      const insight = await insightOf(request.params.mesh, services.clock.now());
      if (!insight) throw notFound(Titles.retrieve);
      return insight;
    },
  );

  app.get<{ Params: { mesh: string } }>(
    '/meshes/:mesh/ca-rotation',
    {
      schema: docs.custom(
        'Rotation',
        'Where a CA rotation stands and what its next step waits for',
        docs.answers(RotationStatusSchema, 'the rotation status'),
      ),
    },
    async (request) => {
      const mesh = await services.store.resources.get<import('../../resources/mesh.js').Mesh>(
        'Mesh',
        '',
        request.params.mesh,
      );
      if (!mesh) throw meshNotFound();
      const now = services.clock.now();
      const status = await rotationStatus(mesh.name, mesh.spec, services.ca, services.facts, now);
      const identity = await identityStatus(services.store, mesh.name, mesh.spec, now, services.fileSources);
      return identity ? { ...status, ...identity } : status;
    },
  );
}
