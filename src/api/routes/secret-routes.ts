import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { listBody, parseListQuery } from '../list-query.js';
import { renderResource } from '../render.js';
import { statusOf, writeOptions } from '../write-options.js';
import { docs } from '../openapi-docs.js';

type MeshScoped = { mesh: string; name: string };

/** Mesh secrets, global secrets (also under Kuma's `/globalsecrets` alias) and the cross-mesh `/secrets` list. */
export function registerSecretRoutes(app: FastifyInstance, services: Services): void {
  const secrets = services.secrets;

  app.get<{ Params: { mesh: string } }>('/meshes/:mesh/secrets', { schema: docs.list('Secret', 'List the secrets of a mesh', true) }, async (request) => {
    const query = parseListQuery(request, request.params.mesh);
    return listBody(request, query, secrets.list('Secret', query));
  });
  app.get<{ Params: MeshScoped }>('/meshes/:mesh/secrets/:name', { schema: docs.get('Secret', 'Get a secret', true) }, async (request) =>
    renderResource(secrets.get('Secret', request.params.mesh, request.params.name)),
  );
  app.put<{ Params: MeshScoped }>('/meshes/:mesh/secrets/:name', { schema: docs.put('Secret', 'Create or replace a secret', true) }, async (request, reply) => {
    const { mesh, name } = request.params;
    return reply.status(statusOf(secrets.put('Secret', mesh, name, request.body, writeOptions(request)))).send({});
  });
  app.delete<{ Params: MeshScoped }>('/meshes/:mesh/secrets/:name', { schema: docs.del('Secret', 'Delete a secret', true) }, async (request) => {
    secrets.delete('Secret', request.params.mesh, request.params.name, writeOptions(request));
    return {};
  });

  app.get('/secrets', { schema: docs.list('Secret', 'List the secrets of every mesh') }, async (request) => {
    const query = parseListQuery(request);
    return listBody(request, query, secrets.list('Secret', query));
  });

  for (const base of ['/global-secrets', '/globalsecrets']) {
    const hide = base === '/globalsecrets';
    app.get(base, { schema: docs.list('GlobalSecret', 'List global secrets', false, hide) }, async (request) => {
      const query = parseListQuery(request, '');
      return listBody(request, query, secrets.list('GlobalSecret', query));
    });
    app.get<{ Params: { name: string } }>(`${base}/:name`, { schema: docs.get('GlobalSecret', 'Get a global secret', false, hide) }, async (request) =>
      renderResource(secrets.get('GlobalSecret', '', request.params.name)),
    );
    app.put<{ Params: { name: string } }>(`${base}/:name`, { schema: docs.put('GlobalSecret', 'Create or replace a global secret', false, hide) }, async (request, reply) =>
      reply.status(statusOf(secrets.put('GlobalSecret', '', request.params.name, request.body, writeOptions(request)))).send({}),
    );
    app.delete<{ Params: { name: string } }>(`${base}/:name`, { schema: docs.del('GlobalSecret', 'Delete a global secret', false, hide) }, async (request) => {
      secrets.delete('GlobalSecret', '', request.params.name, writeOptions(request));
      return {};
    });
  }
}
