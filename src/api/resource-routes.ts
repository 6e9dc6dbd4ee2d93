import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ResourceHandle } from '../services/resource-manager.js';
import type { ListQuery } from '../store/resource-store.js';
import type { Access } from './auth.js';
import { listBody, parseListQuery } from './list-query.js';
import type { ResourceSchemaName } from '../resources/index.js';
import { docs } from './openapi-docs.js';
import { renderResource } from './render.js';
import { statusOf, writeOptions } from './write-options.js';

/** How one resource type appears over HTTP; the handlers are the same for every type. */
export interface ResourceRoutes {
  kind: ResourceSchemaName;
  /** The collection: `/meshes` (items at `/meshes/:name`) or mesh-scoped `/meshes/:mesh/secrets`. */
  collection: string;
  summaries: { list: string; get: string; put: string; del: string };
  /** Kuma's spelling aliases are served but left out of the OpenAPI document. */
  hidden?: boolean;
  /** Who may GET and PUT one item besides admins ('own-dataplane': a dataplane, itself). */
  itemAccess?: Access;
  /** The list query of the collection (default: Kuma's size/offset/name/labels for the URL's mesh, if any). */
  listQuery?: (request: FastifyRequest, mesh: string | undefined) => ListQuery;
}

type ItemParams = { mesh?: string; name: string };

/** GET (list), GET, PUT and DELETE of one resource type, all through its handle. */
export function registerResourceRoutes(app: FastifyInstance, handle: ResourceHandle<object>, routes: ResourceRoutes): void {
  const meshScoped = handle.scope === 'mesh';
  const hide = routes.hidden ?? false;
  const item = `${routes.collection}/:name`;
  const itemConfig = routes.itemAccess ? { config: { access: routes.itemAccess } } : {};
  const listQuery = routes.listQuery ?? ((request, mesh) => parseListQuery(request, mesh));

  app.get<{ Params: { mesh?: string } }>(routes.collection, { schema: docs.list(routes.kind, routes.summaries.list, meshScoped, hide) }, async (request) => {
    const query = listQuery(request, request.params.mesh);
    return listBody(request, query, handle.list(query));
  });
  app.get<{ Params: ItemParams }>(item, { ...itemConfig, schema: docs.get(routes.kind, routes.summaries.get, meshScoped, hide) }, async (request) =>
    renderResource(await handle.get(request.params.mesh ?? '', request.params.name)),
  );
  app.put<{ Params: ItemParams }>(item, { ...itemConfig, schema: docs.put(routes.kind, routes.summaries.put, meshScoped, hide) }, async (request, reply) => {
    const outcome = await handle.put(request.params.mesh ?? '', request.params.name, request.body, { principal: request.principal, ...writeOptions(request) });
    return reply.status(statusOf(outcome)).send({});
  });
  app.delete<{ Params: ItemParams }>(item, { schema: docs.del(routes.kind, routes.summaries.del, meshScoped, hide) }, async (request) => {
    await handle.delete(request.params.mesh ?? '', request.params.name, writeOptions(request));
    return {};
  });
}
