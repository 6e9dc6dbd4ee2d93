import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ZONE_NAME } from '../resources/computed-labels.js';
import {
  KRI_SHORT_NAMES,
  kindOfShortName,
  STORED_KINDS,
  UNMODELLED_KINDS,
  type KnownKind,
  type UnmodelledKind,
} from '../resources/kinds.js';
import { parseKri } from '../resources/kri.js';
import type { ResourceHandle } from '../resource-manager/resource-manager.js';
import type { ResourceType } from '../store/resource-store.js';
import { z } from 'zod';
import { listOf } from '../contract/index.js';
import { DomainError, meshNotFound, notFound, Titles } from '../domain/errors.js';
import { listBody, parseListQuery } from './list-query.js';
import { docs } from './openapi-docs.js';
import { renderResource } from './render.js';
import { statusOf, writeOptions } from './write-options.js';

type ItemParams = { mesh?: string; name: string };

const EmptyListSchema = listOf(z.looseObject({}));

/**
 * The routes of every kind of the kinds table, one loop (Kuma's API server does the same over its registry): CRUD for
 * the kinds meshcp stores, Kuma's empty answers for those it does not model yet.
 */
export function registerKindRoutes(
  app: FastifyInstance,
  handles: Record<ResourceType, ResourceHandle<object>>,
  meshExists: (mesh: string) => Promise<boolean>,
): void {
  for (const kind of STORED_KINDS) registerResourceRoutes(app, kind, handles[kind.type]);
  for (const kind of UNMODELLED_KINDS) registerEmptyKindRoutes(app, kind, meshExists);
  registerKriRoute(app, handles);
}

/**
 * `GET /_kri/{kri}`, as Kuma: the resource a KRI names (the kinds with a short name). A KRI of another zone or a
 * Kubernetes namespace names a synced copy, which a standalone Universal CP never holds: 404.
 */
function registerKriRoute(app: FastifyInstance, handles: Record<ResourceType, ResourceHandle<object>>): void {
  app.get<{ Params: { kri: string } }>(
    '/_kri/:kri',
    { schema: docs.custom('KRI', 'Get a resource by its KRI') },
    async (request) => {
      const parsed = parseKri(request.params.kri, KRI_SHORT_NAMES);
      if (!parsed.ok) throw new DomainError({ kind: 'invalid', title: 'Could not parse KRI', detail: parsed.error });
      const { kri } = parsed;
      const kind = kindOfShortName(kri.shortName)!;
      if (kri.zone !== ZONE_NAME || kri.namespace !== '') throw notFound(Titles.retrieve);
      return renderResource(await handles[kind.type].get(kri.mesh, kri.name));
    },
  );
}

/**
 * GET (list), GET, PUT and DELETE of one kind, all through its handle: at `/<path>` (global kinds) or
 * `/meshes/{mesh}/<path>`, and at each of Kuma's spelling aliases (served, left out of the OpenAPI document); a
 * mesh-scoped kind may also be listed across meshes at `/<path>`.
 */
function registerResourceRoutes(app: FastifyInstance, kind: KnownKind, handle: ResourceHandle<object>): void {
  const meshScoped = kind.scope === 'mesh';
  const listQuery = (request: FastifyRequest, mesh: string | undefined) =>
    parseListQuery(request, mesh, { dataplanes: kind.dataplaneFilters ?? false });
  const itemConfig = kind.itemAccess ? { config: { access: kind.itemAccess } } : {};

  for (const path of [kind.path, ...(kind.pathAliases ?? [])]) {
    const hide = path !== kind.path;
    const collection = meshScoped ? `/meshes/:mesh/${path}` : `/${path}`;
    const item = `${collection}/:name`;
    app.get<{ Params: { mesh?: string } }>(
      collection,
      { schema: docs.list(kind.type, kind.docs.list, meshScoped, hide) },
      async (request) => {
        const query = listQuery(request, request.params.mesh ?? '');
        return listBody(request, query, handle.list(query));
      },
    );
    app.get<{ Params: ItemParams }>(
      item,
      { ...itemConfig, schema: docs.get(kind.type, kind.docs.get, meshScoped, hide) },
      async (request) => renderResource(await handle.get(request.params.mesh ?? '', request.params.name)),
    );
    app.put<{ Params: ItemParams }>(
      item,
      { ...itemConfig, schema: docs.put(kind.type, kind.docs.put, meshScoped, hide) },
      async (request, reply) => {
        const outcome = await handle.put(request.params.mesh ?? '', request.params.name, request.body, {
          principal: request.principal,
          ...writeOptions(request),
        });
        const warnings = kind.envelope?.warnings?.(request.body) ?? [];
        return reply.status(statusOf(outcome)).send(warnings.length > 0 ? { warnings } : {});
      },
    );
    app.delete<{ Params: ItemParams }>(
      item,
      { schema: docs.del(kind.type, kind.docs.del, meshScoped, hide) },
      async (request) => {
        await handle.delete(request.params.mesh ?? '', request.params.name, writeOptions(request));
        return {};
      },
    );
  }
  if (meshScoped && kind.crossMeshList) {
    app.get(
      `/${kind.path}`,
      { schema: docs.list(kind.type, kind.docs.crossMeshList ?? kind.docs.list) },
      async (request) => {
        const query = listQuery(request, undefined);
        return listBody(request, query, handle.list(query));
      },
    );
  }
}

/**
 * Kuma's answers for a kind meshcp does not model yet: lists are `{"total":0,"items":[],"next":null}` (with Kuma's
 * 400s for bad paging and the mesh's 404 first), items are 404s.
 */
function registerEmptyKindRoutes(
  app: FastifyInstance,
  kind: UnmodelledKind,
  meshExists: (mesh: string) => Promise<boolean>,
): void {
  const meshScoped = kind.scope === 'mesh';
  const collection = meshScoped ? `/meshes/:mesh/${kind.path}` : `/${kind.path}`;
  const requireMesh = async (mesh: string | undefined) => {
    if (mesh !== undefined && !(await meshExists(mesh))) throw meshNotFound();
  };
  const tag = kind.type;
  const collections = kind.overview ? [collection, `${collection}/_overview`] : [collection];
  for (const path of collections) {
    const summary = `${kind.displayName.plural}${path.endsWith('_overview') ? ' with insights' : ''}: always empty (meshcp does not model ${kind.type} yet)`;
    app.get<{ Params: { mesh?: string } }>(
      path,
      { schema: docs.custom(tag, summary, docs.answers(EmptyListSchema, 'an empty list')) },
      async (request) => {
        parseListQuery(request, request.params.mesh); // Kuma's 400s for bad paging and label filters
        await requireMesh(request.params.mesh);
        return { total: 0, items: [], next: null };
      },
    );
  }
  const items = kind.overview ? [`${collection}/:name`, `${collection}/:name/_overview`] : [`${collection}/:name`];
  for (const path of items) {
    app.get<{ Params: { mesh?: string; name: string } }>(
      path,
      { schema: docs.custom(tag, `One ${kind.displayName.singular}: always 404`) },
      async (request) => {
        await requireMesh(request.params.mesh);
        throw notFound(Titles.retrieve);
      },
    );
  }
}
