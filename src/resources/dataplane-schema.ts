import { z } from 'zod';
import { meshScopedMetaShape } from './meta.js';

/*
 * The shape of a Universal Dataplane (its validation is in dataplane.ts and dataplane-sections.ts, which both read
 * these schemas).
 */
export const SERVICE_TAG = 'kuma.io/service';
export const PROTOCOL_TAG = 'kuma.io/protocol';

/*
 * The Universal Dataplane as Kuma 2.14 defines it. Every object is strict: a field Kuma's Dataplane does not have is
 * refused with its path, never dropped. Only a metrics backend's `conf` (a Struct in Kuma) is free-form.
 */
const LooseObject = z.record(z.string(), z.unknown());
const TagsSchema = z.record(z.string(), z.string());
/** A protobuf Duration as JSON (`1s`, `0.5s`); checked by the validator, which reports Kuma's messages. */
const ProtoDurationSchema = z.string();
const UInt32Schema = z.number().int();

export const ServiceProbeSchema = z.strictObject({
  interval: ProtoDurationSchema.optional(),
  timeout: ProtoDurationSchema.optional(),
  unhealthyThreshold: UInt32Schema.optional(),
  healthyThreshold: UInt32Schema.optional(),
  tcp: z.strictObject({}).optional(),
});

export const InboundSchema = z.strictObject({
  port: z.number().int().optional(),
  servicePort: z.number().int().optional(),
  serviceAddress: z.string().optional(),
  address: z.string().optional(),
  tags: TagsSchema.optional(),
  health: z.strictObject({ ready: z.boolean().optional() }).optional(),
  serviceProbe: ServiceProbeSchema.optional(),
  state: z.enum(['Ready', 'NotReady', 'Ignored']).optional(),
  name: z.string().optional(),
  protocol: z.string().optional(),
});

export const OutboundSchema = z.strictObject({
  address: z.string().optional(),
  port: z.number().int().optional(),
  tags: TagsSchema.optional(),
  /** Older Kuma's outbound service (before tags); meshcp still reads it as the service when `tags` is empty. */
  service: z.string().optional(),
  backendRef: z
    .strictObject({
      kind: z.string().default(''),
      name: z.string().optional(),
      port: z.number().int().optional(),
      labels: TagsSchema.optional(),
    })
    .optional(),
});

export const GatewaySchema = z.strictObject({
  tags: TagsSchema.optional(),
  type: z.enum(['DELEGATED', 'BUILTIN']).optional(),
});

export const ReachableBackendRefSchema = z.strictObject({
  kind: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  port: UInt32Schema.optional(),
  labels: TagsSchema.optional(),
});

export const TransparentProxyingSchema = z.strictObject({
  redirectPortInbound: UInt32Schema.optional(),
  redirectPortOutbound: UInt32Schema.optional(),
  directAccessServices: z.array(z.string()).optional(),
  reachableServices: z.array(z.string()).optional(),
  ipFamilyMode: z.enum(['UnSpecified', 'DualStack', 'IPv4', 'IPv6']).optional(),
  reachableBackends: z.strictObject({ refs: z.array(ReachableBackendRefSchema).optional() }).optional(),
});

export const ListenerSchema = z.strictObject({
  type: z.enum(['Unspecified', 'ZoneIngress', 'ZoneEgress']).optional(),
  address: z.string().optional(),
  port: UInt32Schema.optional(),
  name: z.string().optional(),
  state: z.enum(['Ready', 'NotReady']).optional(),
});

export const DataplaneNetworkingSchema = z.strictObject({
  address: z.string().optional(),
  advertisedAddress: z.string().optional(),
  inbound: z.array(InboundSchema).optional(),
  outbound: z.array(OutboundSchema).optional(),
  gateway: GatewaySchema.optional(),
  admin: z.strictObject({ port: UInt32Schema.optional() }).optional(),
  transparentProxying: TransparentProxyingSchema.optional(),
  listeners: z.array(ListenerSchema).optional(),
});

export const ProbesSchema = z.strictObject({
  port: UInt32Schema.optional(),
  endpoints: z
    .array(
      z.strictObject({
        inboundPort: UInt32Schema.optional(),
        inboundPath: z.string().optional(),
        path: z.string().optional(),
      }),
    )
    .optional(),
});

export const DataplaneMetricsSchema = z.strictObject({
  name: z.string().optional(),
  type: z.string().optional(),
  conf: LooseObject.optional(),
});

/** A Universal Dataplane. `type`, `mesh` and `name` default to `""` so the HTTP layer reports a mismatch with the URL. */
export const DataplaneSchema = z.strictObject({
  ...meshScopedMetaShape,
  networking: DataplaneNetworkingSchema.optional(),
  metrics: DataplaneMetricsSchema.optional(),
  probes: ProbesSchema.optional(),
});

export type Dataplane = z.output<typeof DataplaneSchema>;
export type DataplaneInbound = z.output<typeof InboundSchema>;
export type DataplaneOutbound = z.output<typeof OutboundSchema>;
