import { z } from 'zod';

/** A vault backend's last contact with Vault (trust bundles never need Vault; issuance does). */
export const VaultContactStatusSchema = z.object({
  reachable: z.boolean().nullable().describe('null: not contacted since the control plane started'),
  lastContactAt: z.string().nullable(),
  lastError: z.string().optional(),
  description: z.string(),
});

export const BackendStatusSchema = z.object({
  name: z.string(),
  type: z.string(),
  enabled: z.boolean(),
  rootFingerprint: z.string().nullable(),
  notAfter: z.string().nullable(),
  dataplanesIssued: z.number().int(),
  dataplanesTrusting: z.number().int(),
  vault: VaultContactStatusSchema.optional().describe('vault backends only'),
});
export type BackendStatus = z.infer<typeof BackendStatusSchema>;

export const DataplaneSampleSchema = z.object({ count: z.number().int(), names: z.array(z.string()) });

export const NextStepSchema = z.object({
  action: z.enum(['enable', 'remove', 'none']),
  backend: z.string().optional(),
  ready: z.boolean(),
  description: z.string(),
  waitingFor: DataplaneSampleSchema.optional(),
});
export type NextStep = z.infer<typeof NextStepSchema>;

/** `GET /meshes/{mesh}/ca-rotation`: where a CA rotation stands and what its next step waits for. */
/** A MeshIdentity as the guard sees it (meshes of the new model only). */
export const IdentityStatusSchema = z.object({
  name: z.string(),
  kri: z.string(),
  ready: z.boolean(),
  reason: z.string().optional(),
  /** Active dataplanes it wins. */
  dataplanesSelected: z.number().int(),
  /** Active dataplanes holding a certificate it issued. */
  dataplanesIssued: z.number().int(),
  /** Active dataplanes that acknowledged a bundle trusting its CA (null: no MeshTrust holds it). */
  dataplanesTrusting: z.number().int().nullable(),
});

/** Where the cut-over from Mesh.mtls stands (meshes of the new model only). */
export const CutOverStatusSchema = z.object({
  /** Active dataplanes holding, or still serving, a certificate from a Mesh.mtls backend. */
  legacyCertificates: z.number().int(),
  /** Active dataplanes whose winning identity is absent or not Ready. */
  withoutReadyIdentity: z.number().int(),
  /** Whether `Mesh.mtls` can be removed now (the guard's rule 3 passes). */
  mtlsRemovable: z.boolean(),
});

export const RotationStatusSchema = z.object({
  mesh: z.string(),
  mtlsEnabled: z.boolean(),
  enabledBackend: z.string().nullable(),
  bundleVersion: z.string().nullable(),
  activeDataplanes: z.number().int(),
  backends: z.array(BackendStatusSchema),
  nextStep: NextStepSchema,
  error: z.string().optional(),
  identities: z.array(IdentityStatusSchema).optional(),
  cutOver: CutOverStatusSchema.optional(),
});
export type RotationStatus = z.infer<typeof RotationStatusSchema>;
