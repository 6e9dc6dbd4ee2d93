import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { listBody, parseListQuery } from '../list-query.js';
import { renderResource } from '../render.js';
import { statusOf, writeOptions } from '../write-options.js';
import { docs } from '../openapi-docs.js';

type MeshParams = { name: string };

export function registerMeshRoutes(app: FastifyInstance, services: Services): void {
  app.get('/meshes', { schema: docs.list('Mesh', 'List meshes') }, async (request) => {
    const query = parseListQuery(request);
    return listBody(request, query, services.meshes.list(query));
  });

  app.get<{ Params: MeshParams }>('/meshes/:name', { schema: docs.get('Mesh', 'Get a mesh') }, async (request) =>
    renderResource(services.meshes.get(request.params.name)),
  );

  app.put<{ Params: MeshParams }>('/meshes/:name', { schema: docs.put('Mesh', 'Create or replace a mesh') }, async (request, reply) => {
    const outcome = await services.meshes.put(request.params.name, request.body, writeOptions(request));
    return reply.status(statusOf(outcome)).send({});
  });

  app.delete<{ Params: MeshParams }>('/meshes/:name', { schema: docs.del('Mesh', 'Delete a mesh') }, async (request) => {
    services.meshes.delete(request.params.name, writeOptions(request));
    return {};
  });
}
