import { z } from 'zod';
import { LabelsSchema } from './labels.js';

/**
 * The meta fields every resource body may carry, as Kuma's REST meta: what GET returns can be PUT back unchanged
 * (`creationTime`, `modificationTime` and `kri` are accepted and ignored: the CP owns them).
 * `type` and `name` default to `""` so a body without them reaches the URL-equality check.
 */
export const globalMetaShape = {
  type: z.string().default(''),
  name: z.string().default(''),
  labels: LabelsSchema.optional(),
  creationTime: z.string().optional().meta({ description: 'ignored on PUT (set by the CP)' }),
  modificationTime: z.string().optional().meta({ description: 'ignored on PUT (set by the CP)' }),
  kri: z.string().optional().meta({ description: 'ignored on PUT (computed by the CP)' }),
};

/** Kuma's meta of a global resource still has a `mesh` member (reported by the request checks when set). */
export const globalResourceMetaShape = { ...globalMetaShape, mesh: z.string().optional() };

/** Meta of a mesh-scoped resource: the global meta plus `mesh`. */
export const meshScopedMetaShape = { ...globalMetaShape, mesh: z.string().default('') };
