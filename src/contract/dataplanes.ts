import { z } from 'zod';

/** `POST /meshes/{mesh}/dataplanes/{name}/certificate`: a CSR (else the CP makes the key) and the bundle held. */
export const CertificateRequestSchema = z.object({
  csr: z.string().optional(),
  bundleVersion: z.string().optional(),
});
export type CertificateRequest = z.infer<typeof CertificateRequestSchema>;

const isoTime = z.string().describe('RFC 3339 time');

/** The certificate answer: the leaf (with intermediates), its key when the CP made it, and the trust bundle. */
export const IssuedCertificateSchema = z.object({
  mesh: z.string(),
  dataplane: z.string(),
  issuedBackend: z.string(),
  certificate: z.string().describe('PEM: the leaf, then any intermediates'),
  privateKey: z.string().optional().describe('PKCS#8 PEM; only when no CSR was sent'),
  caBundle: z.string().describe('PEM: the roots of every backend of the mesh, the enabled one first'),
  bundleVersion: z.string(),
  supportedBackends: z.array(z.string()),
  trustDomains: z
    .array(z.string())
    .optional()
    .describe(
      'the SPIFFE trust domains the bundle vouches for (a mesh with MeshTrusts: theirs, and the mesh name while Mesh.mtls is on); a peer presents a SPIFFE ID of one of them',
    ),
  notBefore: isoTime,
  notAfter: isoTime,
  renewAfter: isoTime,
});
export type IssuedCertificate = z.infer<typeof IssuedCertificateSchema>;

/** `GET /meshes/{mesh}/dataplanes/{name}/trust-bundle` (200; a 304 has no body). */
export const TrustBundleSchema = z.object({
  caBundle: z.string(),
  bundleVersion: z.string(),
  supportedBackends: z.array(z.string()),
  enabledBackend: z.string(),
  trustDomains: z
    .array(z.string())
    .optional()
    .describe(
      'the SPIFFE trust domains the bundle vouches for (a mesh with MeshTrusts: theirs, and the mesh name while Mesh.mtls is on); a peer presents a SPIFFE ID of one of them',
    ),
  reissue: z.boolean().describe('the dataplane should ask for a new certificate'),
});
export type TrustBundle = z.infer<typeof TrustBundleSchema>;
