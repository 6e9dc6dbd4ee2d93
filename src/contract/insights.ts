import { z } from 'zod';

const stat = z.object({
  total: z.number().int(),
  online: z.number().int().optional(),
  offline: z.number().int().optional(),
});

/** `GET /mesh-insights/{mesh}` (and the items of `/mesh-insights`): Kuma's MeshInsight, as far as meshcp counts. */
export const MeshInsightSchema = z.object({
  type: z.literal('MeshInsight'),
  name: z.string(),
  creationTime: z.string(),
  modificationTime: z.string(),
  dataplanes: z.object({ total: z.number().int(), online: z.number().int(), offline: z.number().int() }),
  mTLS: z.object({ issuedBackends: z.record(z.string(), stat), supportedBackends: z.record(z.string(), stat) }),
});
export type MeshInsight = z.infer<typeof MeshInsightSchema>;

export const DataplaneMtlsInsightSchema = z.object({
  certificateExpirationTime: z.string(),
  lastCertificateRegeneration: z.string(),
  certificateRegenerations: z.number().int(),
  issuedBackend: z.string(),
  supportedBackends: z.array(z.string()),
});

/** One item of `/meshes/{mesh}/dataplanes/_overview`: the Dataplane plus what the CP knows of its certificate. */
export const DataplaneOverviewSchema = z.object({
  type: z.literal('DataplaneOverview'),
  mesh: z.string(),
  name: z.string(),
  creationTime: z.string(),
  modificationTime: z.string(),
  labels: z.record(z.string(), z.string()).optional(),
  dataplane: z.looseObject({
    networking: z
      .looseObject({
        address: z.string().optional(),
        inbound: z
          .array(
            z.looseObject({
              port: z.number().optional(),
              servicePort: z.number().optional(),
              tags: z.record(z.string(), z.string()).optional(),
            }),
          )
          .optional(),
        gateway: z.looseObject({ tags: z.record(z.string(), z.string()).optional() }).optional(),
      })
      .optional(),
  }),
  dataplaneInsight: z.object({ mTLS: DataplaneMtlsInsightSchema }).optional(),
});
export type DataplaneOverview = z.infer<typeof DataplaneOverviewSchema>;

const isoOrNull = z.string().nullable();

/** `GET /meshes/{mesh}/dataplanes/{name}/_certificate-facts` (meshctl inspect dataplane): what the CP knows of one dataplane. */
export const DataplaneCertificateFactsSchema = z.object({
  mesh: z.string(),
  name: z.string(),
  issuedBackend: z.string().nullable(),
  issuedSerial: z.string().nullable().describe('hex serial of the newest certificate issued'),
  servedSerial: z.string().nullable().describe('hex serial the proxy last reported serving'),
  servedBackend: z.string().nullable(),
  certNotBefore: isoOrNull,
  certNotAfter: isoOrNull,
  lastIssueTime: isoOrNull,
  certificateRegenerations: z.number().int(),
  acknowledgedBundleVersion: z.string().nullable(),
  trustedBackends: z.array(z.string()),
  lastContact: isoOrNull,
  online: z.boolean(),
});
export type DataplaneCertificateFacts = z.infer<typeof DataplaneCertificateFactsSchema>;
