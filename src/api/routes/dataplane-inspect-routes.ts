import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { effectiveConfig } from '../../config.js';
import { DomainError } from '../../domain/errors.js';
import { dataplaneLayout } from '../../resources/dataplane-layout.js';
import type { Dataplane } from '../../resources/dataplane.js';
import { docs } from '../openapi-docs.js';

type Params = { mesh: string; name: string };

const section = z.object({
  kri: z.string(),
  port: z.number().int(),
  protocol: z.string(),
  proxyResourceName: z.string(),
});
const DataplaneLayoutSchema = z.object({
  kri: z.string(),
  labels: z.record(z.string(), z.string()),
  inbounds: z.array(section),
  outbounds: z.array(section),
  listeners: z.array(
    z.object({
      kri: z.string(),
      type: z.enum(['ZoneIngress', 'ZoneEgress']),
      port: z.number().int(),
      proxyResourceName: z.string(),
    }),
  ),
});

/**
 * What Kuma reads from a proxy's Envoy admin API. meshcp's dataplanes run no Envoy it can reach, so these answer
 * as kuma-cp does when a proxy's admin API cannot be reached (500, Kuma's title), after the same 404s.
 */
const ENVOY_ADMIN: { path: string; title: string; summary: string }[] = [
  {
    path: 'stats',
    title: 'Could not execute admin operation',
    summary: "Envoy stats of the proxy: no admin API (Kuma's 500)",
  },
  {
    path: 'clusters',
    title: 'Could not execute admin operation',
    summary: "Envoy clusters of the proxy: no admin API (Kuma's 500)",
  },
  {
    path: 'xds',
    title: 'Could not execute admin operation',
    summary: "Envoy config dump of the proxy: no admin API (Kuma's 500)",
  },
  {
    path: '_config',
    title: 'Failed to inspect proxy config',
    summary: "The proxy's XDS config: meshcp computes none (Kuma's 500)",
  },
];

/** A dataplane's `_layout`, the Envoy inspection endpoints, and `/config`. */
export function registerDataplaneInspectRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Params: Params }>(
    '/meshes/:mesh/dataplanes/:name/_layout',
    {
      schema: docs.custom(
        'Dataplane',
        "The dataplane's networking layout (inbounds, outbounds, zone listeners with Kuma's KRIs)",
        docs.answers(DataplaneLayoutSchema, 'the layout'),
      ),
    },
    async (request) => {
      const dp = await services.dataplanes.get(request.params.mesh, request.params.name);
      return dataplaneLayout(dp.mesh, dp.name, dp.labels, dp.spec as Dataplane);
    },
  );
  for (const inspect of ENVOY_ADMIN) {
    app.get<{ Params: Params }>(
      `/meshes/:mesh/dataplanes/:name/${inspect.path}`,
      { schema: docs.custom('Dataplane', inspect.summary) },
      async (request) => {
        await services.dataplanes.get(request.params.mesh, request.params.name); // 404s first, as Kuma
        throw new DomainError({ kind: 'internal', title: inspect.title, detail: 'Internal Server Error' });
      },
    );
  }
  app.get(
    '/config',
    { schema: docs.custom('System', "The control plane's effective configuration (secrets and tokens as *****)") },
    async () => effectiveConfig(services.config),
  );
}
