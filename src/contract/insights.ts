import { z } from 'zod';

const stat = z.object({
  total: z.number().int(),
  online: z.number().int().optional(),
  offline: z.number().int().optional(),
});

const count = z.number().int();
/** Kuma's `FullStatus` / `MeshInsight.DataplaneStat` with every member present. */
export const FullStatSchema = z.object({ total: count, online: count, offline: count, partiallyDegraded: count });
const totalOnly = z.object({ total: count });

/** `GET /mesh-insights/{mesh}` (and the items of `/mesh-insights`): Kuma's MeshInsight, as far as meshcp counts. */
export const MeshInsightSchema = z.object({
  type: z.literal('MeshInsight'),
  name: z.string(),
  creationTime: z.string(),
  modificationTime: z.string(),
  dataplanes: z.object({ total: count, online: count, offline: count }),
  dataplanesByType: z.object({
    standard: FullStatSchema,
    gateway: FullStatSchema,
    gatewayBuiltin: FullStatSchema,
    gatewayDelegated: FullStatSchema,
  }),
  services: z.object({ total: count, internal: count, external: count }),
  policies: z.record(z.string(), totalOnly).describe('meshcp models no policies: always empty'),
  resources: z.record(z.string(), totalOnly),
  dpVersions: z
    .object({ kumaDp: z.record(z.string(), FullStatSchema), envoy: z.record(z.string(), FullStatSchema) })
    .describe('meshcp-dp reports no versions: empty maps'),
  mTLS: z.object({ issuedBackends: z.record(z.string(), stat), supportedBackends: z.record(z.string(), stat) }),
});

/** `GET /global-insight`: Kuma's GlobalInsight (one control plane, no zones). */
export const GlobalInsightSchema = z.object({
  createdAt: z.string(),
  services: z.object({
    total: count,
    internal: FullStatSchema,
    external: totalOnly,
    gatewayBuiltin: FullStatSchema,
    gatewayDelegated: FullStatSchema,
  }),
  zones: z.object({
    controlPlanes: z.object({ online: count, total: count }),
    zoneEgresses: z.object({ online: count, total: count }),
    zoneIngresses: z.object({ online: count, total: count }),
  }),
  dataplanes: z.object({ standard: FullStatSchema, gatewayBuiltin: FullStatSchema, gatewayDelegated: FullStatSchema }),
  policies: totalOnly,
  meshes: totalOnly,
  resources: z.record(z.string(), totalOnly),
});
export type GlobalInsight = z.infer<typeof GlobalInsightSchema>;
export type MeshInsight = z.infer<typeof MeshInsightSchema>;

export const DataplaneMtlsInsightSchema = z.object({
  certificateExpirationTime: z.string(),
  lastCertificateRegeneration: z.string(),
  certificateRegenerations: z.number().int(),
  issuedBackend: z.string(),
  supportedBackends: z.array(z.string()),
});

/**
 * Kuma's DiscoverySubscription, from what meshcp measures: one entry per online stretch it knows of (the current
 * or the last one). `disconnectTime` only when the stretch ended (no contact within the online window).
 */
export const DiscoverySubscriptionSchema = z.object({
  id: z.string(),
  controlPlaneInstanceId: z.string(),
  connectTime: z.string(),
  disconnectTime: z.string().optional(),
  status: z.object({
    lastUpdateTime: z.string(),
    total: z.object({
      responsesSent: z.number().int(),
      responsesAcknowledged: z.number().int(),
      responsesRejected: z.number().int(),
    }),
  }),
});
export type DiscoverySubscription = z.infer<typeof DiscoverySubscriptionSchema>;

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
  dataplaneInsight: z
    .object({
      subscriptions: z.array(DiscoverySubscriptionSchema).optional(),
      mTLS: DataplaneMtlsInsightSchema.optional(),
    })
    .optional(),
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
