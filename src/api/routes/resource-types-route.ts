import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { resourceTypeDescriptions } from '../../resources/kinds.js';
import { docs } from '../openapi-docs.js';

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

/** Kuma's `/_resources`: every kind of the kinds table (src/resources/kinds.ts). */
export function registerResourceTypesRoute(app: FastifyInstance): void {
  app.get(
    '/_resources',
    {
      schema: docs.custom(
        'System',
        "Kuma's resource types (ResourceTypeDescriptionList)",
        docs.answers(ResourceTypeDescriptionListSchema, 'every kind'),
      ),
    },
    async () => resourceTypeDescriptions(),
  );
}
