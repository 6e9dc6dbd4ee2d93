import { z } from 'zod';
import { envelopeSchema } from './envelope.js';
import { ViolationList, type Violation } from './violations.js';

/** MeshTrust (Kuma 2.12+): the CAs a trust domain's peers are verified against. Members in Kuma's Go struct order. */
const MeshTrustSpecSchema = z.object({
  origin: z
    .object({ kri: z.string().optional() })
    .optional()
    .meta({ description: 'deprecated since Kuma 2.13 (accepted with a warning)' }),
  trustDomain: z.string().optional(),
  caBundles: z.array(z.object({ type: z.string(), pem: z.object({ value: z.string() }).optional() })).optional(),
});

export const MeshTrustSchema = envelopeSchema('MeshTrust', MeshTrustSpecSchema);
export type MeshTrustSpec = z.output<typeof MeshTrustSpecSchema>;

/** Kuma's answer to a MeshTrust that sets `spec.origin`. */
const MESH_TRUST_ORIGIN_WARNING = 'setting spec.origin field is deprecated';

const PRIVATE_KEY_BLOCKS = new Set([
  'PRIVATE KEY',
  'RSA PRIVATE KEY',
  'EC PRIVATE KEY',
  'DSA PRIVATE KEY',
  'ENCRYPTED PRIVATE KEY',
]);

/** Kuma's MeshTrust validator, in its order and words: the CA bundles first, then the trust domain. */
export function validateMeshTrust(trust: { spec: MeshTrustSpec }): Violation[] {
  const list = new ViolationList('spec');
  const bundles = trust.spec.caBundles ?? [];
  if (bundles.length === 0) list.add('caBundles', 'must not be empty');
  bundles.forEach((bundle, i) => {
    if (bundle.type !== 'Pem') {
      // Kuma reports this one without the bundle's index.
      list.add('caBundles.type', `${bundle.type} must be one of: Pem`);
    } else if (!bundle.pem) {
      list.add(`caBundles[${i}].pem`, 'must be defined');
    } else if (!isPemCertificate(bundle.pem.value)) {
      list.add(`caBundles[${i}].pem.value`, 'provided certificate has incorrect format');
    }
  });
  const domain = trust.spec.trustDomain ?? '';
  if (domain === '') list.add('trustDomain', 'trustDomain needs to be defined');
  if (domain.length > 253) list.add('trustDomain', 'must not be longer than 253 characters');
  return list.toArray();
}

/** As Kuma: the first PEM block exists and is not a private key (the certificate itself is not parsed here). */
function isPemCertificate(text: string): boolean {
  const match = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/.exec(text);
  return match !== null && !PRIVATE_KEY_BLOCKS.has(match[1]!);
}

/** The warnings Kuma answers a MeshTrust write with. */
export function meshTrustWarnings(body: unknown): string[] {
  const spec = (body as { spec?: { origin?: unknown } } | null)?.spec;
  return spec && typeof spec === 'object' && spec.origin != null ? [MESH_TRUST_ORIGIN_WARNING] : [];
}
