import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { listBody, parseListQuery } from '../list-query.js';
import { docs } from '../openapi-docs.js';
import { registerResourceRoutes } from '../resource-routes.js';

/** Mesh secrets, global secrets (also under Kuma's `/globalsecrets` alias) and the cross-mesh `/secrets` list. */
export function registerSecretRoutes(app: FastifyInstance, services: Services): void {
  registerResourceRoutes(app, services.secrets, {
    kind: 'Secret',
    collection: '/meshes/:mesh/secrets',
    summaries: { list: 'List the secrets of a mesh', get: 'Get a secret', put: 'Create or replace a secret', del: 'Delete a secret' },
  });
  app.get('/secrets', { schema: docs.list('Secret', 'List the secrets of every mesh') }, async (request) => {
    const query = parseListQuery(request);
    return listBody(request, query, services.secrets.list(query));
  });

  for (const collection of ['/global-secrets', '/globalsecrets']) {
    registerResourceRoutes(app, services.globalSecrets, {
      kind: 'GlobalSecret',
      collection,
      hidden: collection === '/globalsecrets',
      summaries: { list: 'List global secrets', get: 'Get a global secret', put: 'Create or replace a global secret', del: 'Delete a global secret' },
      listQuery: (request) => parseListQuery(request, ''),
    });
  }
}
