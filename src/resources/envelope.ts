import { z } from 'zod';
import { LabelsSchema } from './labels.js';

/**
 * The meta of Kuma's new-model kinds (MeshIdentity, MeshTrust), as their `rest.yaml` has it: `type` (one value),
 * `name` and `spec` required, `mesh` defaulting to `default`; times and `kri` are the CP's (accepted, ignored), and so
 * is `status`, which a write never sets.
 */
export function envelopeSchema<T extends string, S extends z.ZodType>(type: T, spec: S) {
  return z.object({
    type: z.literal(type),
    mesh: z.string().default('default'),
    name: z.string(),
    creationTime: z.string().optional().meta({ description: 'ignored on PUT (set by the CP)' }),
    modificationTime: z.string().optional().meta({ description: 'ignored on PUT (set by the CP)' }),
    labels: LabelsSchema.optional(),
    kri: z.string().optional().meta({ description: 'ignored on PUT (computed by the CP)' }),
    spec,
    status: z.unknown().optional().meta({ description: 'ignored on PUT (computed by the CP)' }),
  });
}

/** Kuma's condition object (no lastTransitionTime). */
const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
});
export type Condition = z.output<typeof ConditionSchema>;
