import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { meshNotFound, notFound, Titles } from '../../domain/errors.js';
import { KUMA_KINDS, resourceTypeDescriptions, type KumaKind } from '../../resources/kuma-kinds.js';
import { listOf } from '../../contract/index.js';
import { parseListQuery } from '../list-query.js';
import { docs } from '../openapi-docs.js';

const EmptyListSchema = listOf(z.looseObject({}));

const ResourceTypeDescriptionListSchema = z.object({
  resources: z.array(
    z.object({
      name: z.string(),
      scope: z.enum(['Global', 'Mesh']),
      readOnly: z.boolean(),
      path: z.string(),
      singularDisplayName: z.string(),
      pluralDisplayName: z.string(),
      shortName: z.string(),
      includeInFederation: z.boolean(),
    }),
  ),
});

/**
 * Kinds Kuma has and meshcp does not model yet answer as Kuma answers an empty collection: lists are
 * `{"total":0,"items":[],"next":null}` (with Kuma's 400s for bad paging and the mesh's 404 first), items are 404s.
 * One loop over the kinds data, so a kind meshcp comes to model leaves this loop by its `modelled` flag.
 */
export function registerEmptyCollectionRoutes(app: FastifyInstance, services: Services): void {
  app.get('/_resources', { schema: docs.custom('System', "Kuma's resource types (ResourceTypeDescriptionList)", docs.answers(ResourceTypeDescriptionListSchema, 'every kind')) }, async () =>
    resourceTypeDescriptions(),
  );
  for (const kind of KUMA_KINDS.filter((k) => !k.modelled)) registerEmptyKind(app, services, kind);
}

function registerEmptyKind(app: FastifyInstance, services: Services, kind: KumaKind): void {
  const meshScoped = kind.scope === 'Mesh';
  const collection = meshScoped ? `/meshes/:mesh/${kind.path}` : `/${kind.path}`;
  const requireMesh = async (mesh: string | undefined) => {
    if (mesh !== undefined && !(await services.store.resources.exists('Mesh', '', mesh))) throw meshNotFound();
  };
  const tag = kind.type;
  const collections = kind.overview ? [collection, `${collection}/_overview`] : [collection];
  for (const path of collections) {
    const summary = `${kind.pluralDisplayName}${path.endsWith('_overview') ? ' with insights' : ''}: always empty (meshcp does not model ${kind.type} yet)`;
    app.get<{ Params: { mesh?: string } }>(path, { schema: docs.custom(tag, summary, docs.answers(EmptyListSchema, 'an empty list')) }, async (request) => {
      parseListQuery(request, request.params.mesh); // Kuma's 400s for bad paging and label filters
      await requireMesh(request.params.mesh);
      return { total: 0, items: [], next: null };
    });
  }
  const items = kind.overview ? [`${collection}/:name`, `${collection}/:name/_overview`] : [`${collection}/:name`];
  for (const path of items) {
    app.get<{ Params: { mesh?: string; name: string } }>(path, { schema: docs.custom(tag, `One ${kind.singularDisplayName}: always 404`) }, async (request) => {
      await requireMesh(request.params.mesh);
      throw notFound(Titles.retrieve);
    });
  }
}
