import { createHash } from 'node:crypto';
import { CertificateRequestSchema, type IssuedCertificate } from '../contract/dataplanes.js';
import { CaMaterialError } from '../ca/backend.js';
import type { CaManager, LegacyCaState, MeshCaState } from '../ca/ca-manager.js';
import type { IssuedLeaf } from '../ca/backend.js';
import { describeChain } from '../ca/pem-chain.js';
import type { SigningPool } from '../ca/signing-pool.js';
import type { IdentityService } from '../identity/identity-service.js';
import { signFromIdentity } from './identity-issuance.js';
import type { Clock } from '../domain/clock.js';
import { cannotIssue, invalidRequest } from '../domain/errors.js';
import type { Dataplane } from '../resources/dataplane.js';
import { uriSanViolations } from '../resources/dataplane-limits.js';
import { certificateUris, type CertProfile } from './cert-profile.js';
import { describeShapeError, parseShape } from '../resources/violations.js';
import type { DataplaneService } from './dataplane-rules.js';
import { StaleIssue, type IssueRecorder } from './issue-recorder.js';

/** Renew at about 80% of the lifetime, up to 5% earlier at random so a fleet does not renew at once. */
const RENEW_AT = 0.8;
const RENEW_JITTER = 0.05;

export type { IssuedCertificate } from '../contract/dataplanes.js';

export function identityOf(uris: string[]): string {
  return createHash('sha256').update(uris.join('\n')).digest('base64url').slice(0, 22);
}

/** The mesh's CA state for dataplane endpoints: 409 when mTLS is off or the CA cannot be used. */
export async function requireMeshCa(ca: CaManager, mesh: string): Promise<MeshCaState> {
  let state: MeshCaState | undefined;
  try {
    state = await ca.stateOf(mesh);
  } catch (err) {
    if (!(err instanceof CaMaterialError)) throw err;
    throw cannotIssue(err.message);
  }
  if (!state) {
    throw cannotIssue(`mTLS is disabled in mesh "${mesh}": set mtls.enabledBackend first`);
  }
  return state;
}

export class CertificateService {
  constructor(
    private readonly dataplanes: DataplaneService,
    private readonly ca: CaManager,
    /** Signs the certificates MeshIdentities issue (the Mesh.mtls backends issue through their plugins). */
    private readonly signing: SigningPool,
    private readonly recorder: IssueRecorder,
    private readonly identities: IdentityService,
    private readonly certProfile: CertProfile = 'kuma',
    private readonly clock: Clock,
  ) {}

  /**
   * `fromDataplane`: only the dataplane's own `bundleVersion` counts as an acknowledgement (see TrustBundleService).
   * `registered`: the Dataplane as the request's token check just read it, so it is not read twice.
   * Issued by the MeshIdentity that wins the dataplane when it is Ready, else by the enabled `Mesh.mtls` backend, else
   * 409 with the reason (see IdentityService).
   */
  async issue(
    mesh: string,
    name: string,
    body: unknown,
    fromDataplane: boolean,
    registered?: { spec: unknown; labels?: Record<string, string> },
  ): Promise<IssuedCertificate> {
    const stored = registered?.labels ? registered : await this.dataplanes.get(mesh, name);
    const dp = stored.spec as Dataplane;
    const shape = parseShape(CertificateRequestSchema, body ?? {});
    if (!shape.ok) throw invalidRequest(describeShapeError('certificate request', shape.violations), shape.violations);
    const request = shape.value;

    for (let attempt = 1; ; attempt++) {
      const state = await requireMeshCa(this.ca, mesh);
      const issuer = await this.identities.issuerFor(state, mesh, { name, labels: stored.labels ?? {} });
      if (issuer.kind === 'none') throw cannotIssue(issuer.reason);
      const now = this.clock.now();
      let signed: IssuedLeaf;
      let uris: string[];
      let issuedBy: string;
      let chainPem: string;
      if (issuer.kind === 'identity') {
        uris = [issuer.spiffeId];
        signed = await signFromIdentity(issuer, request.csr, uris, now, this.signing);
        issuedBy = issuer.kri;
        chainPem = describeChain(issuer.state.ca.signer.chainPem).intermediatesPem;
      } else {
        const legacy = state as LegacyCaState;
        uris = legacyUris(this.certProfile, mesh, dp);
        signed = await legacy.issuer.issue({ mesh, dataplane: dp, csr: request.csr, uris, now });
        issuedBy = legacy.enabled.name;
        chainPem = legacy.enabledMaterial.intermediatesPem;
      }
      const { notBefore, notAfter } = signed;
      // Signing ran off the main thread (or in Vault): record only a certificate from the CA that is still current (checked
      // again at commit), so a rotation step that passed meanwhile is never undercut by a certificate it did not see.
      const renewAfter = Math.round(now + (notAfter - now) * (RENEW_AT - Math.random() * RENEW_JITTER));
      const issue = {
        backend: issuedBy,
        identity: identityOf(uris),
        notBefore,
        notAfter,
        renewAfter,
        issuedAt: now,
        serial: signed.serialHex,
      };
      try {
        const under = { bundleVersion: state.bundleVersion, meshVersion: state.meshVersion };
        await this.recorder.record(mesh, name, issue, under, fromDataplane ? request.bundleVersion : undefined);
      } catch (err) {
        if (!(err instanceof StaleIssue)) throw err;
        if (attempt < 3) continue;
        throw cannotIssue('the mesh CA changed during issuance, retry');
      }
      return {
        mesh,
        dataplane: name,
        issuedBackend: issuedBy,
        certificate: signed.certificatePem + chainPem,
        ...(signed.privateKeyPem ? { privateKey: signed.privateKeyPem } : {}),
        caBundle: state.bundlePem,
        bundleVersion: state.bundleVersion,
        supportedBackends: state.supportedBackends,
        ...(state.trustDomains ? { trustDomains: state.trustDomains } : {}),
        notBefore: new Date(notBefore).toISOString(),
        notAfter: new Date(notAfter).toISOString(),
        renewAfter: new Date(renewAfter).toISOString(),
      };
    }
  }
}

/** The legacy URI SANs of a dataplane under the profile; 409 when it cannot have them. */
function legacyUris(profile: CertProfile, mesh: string, dp: Dataplane): string[] {
  const uris = certificateUris(profile, mesh, dp);
  const oversized = uriSanViolations(uris);
  if (oversized.length > 0) {
    // Stored before the caps existed: refuse to sign rather than mint an oversized certificate.
    throw cannotIssue(`the Dataplane is too large for a certificate: ${oversized.map((v) => v.message).join('; ')}`);
  }
  return uris;
}
