import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { LegacyCaState } from '../ca/ca-manager.js';
import { CsrError, parseAndVerifyCsr } from '../ca/csr.js';
import {
  issueFromVault,
  VaultBadAnswer,
  VaultRefused,
  VaultUnavailable,
  type VaultConnection,
} from '../ca/vault-client.js';
import type { VaultHealth } from '../ca/vault-health.js';
import { cannotIssue, DomainError, invalidRequest, Titles } from '../domain/errors.js';
import { dataplaneTags, type Dataplane } from '../resources/dataplane.js';
import { dpCertExpirationMs, dpCertRequestTimeoutMs } from '../resources/mesh.js';
import { TAG_ACTION } from '../resources/vault-conf.js';

/** Seconds a dataplane should wait before asking again while Vault is unreachable. */
export const VAULT_RETRY_AFTER_SECONDS = 10;

export interface IssuedLeaf {
  certificatePem: string;
  serialHex: string;
  privateKeyPem?: string;
  notBefore: number;
  notAfter: number;
}

/** Vault refused, or answered with a certificate meshcp will not hand out. */
const upstreamFailed = (detail: string) =>
  new DomainError({ kind: 'upstream-failed', title: Titles.issueCertificate, detail });

/** Renders `{{ tag "name" }}` with the Dataplane's single value of that tag. */
export function renderCommonName(template: string, dp: Dataplane): string {
  const tags = dataplaneTags(dp);
  return template.replace(TAG_ACTION, (_, name: string) => {
    const values = [...(tags.get(name) ?? [])];
    if (values.length !== 1) {
      throw cannotIssue(
        `the vault backend's commonName template needs exactly one value of tag "${name}", the Dataplane has ${values.length === 0 ? 'none' : `${values.length} (${values.join(', ')})`}`,
      );
    }
    return values[0]!;
  });
}

const spki = (key: KeyObject) =>
  (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });

/** The URI SANs of a certificate, from Node's `subjectAltName` text (URIs with a comma are refused before issuing). */
function uriSansOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('URI:'))
    .map((n) => n.slice(4));
}

/**
 * Issues a dataplane certificate through the enabled backend's Vault: `sign` with the dataplane's CSR (its proof of
 * possession checked here first, so Vault never sees a request the dataplane could not have made), `issue` without.
 * What Vault returns is checked before anyone gets it: signed by the CA in the mesh's bundle, for the requested key,
 * with exactly the requested URI SANs. The lifetime is what Vault granted (it clamps the TTL to the role's max_ttl).
 */
export class VaultIssuer {
  constructor(private readonly health: VaultHealth) {}

  async issue(
    mesh: string,
    dp: Dataplane,
    state: LegacyCaState,
    csr: string | undefined,
    uris: string[],
    now: number,
  ): Promise<IssuedLeaf> {
    const material = state.enabledMaterial;
    const connection = material.vault as VaultConnection;
    let csrKey: Buffer | undefined;
    if (csr !== undefined) {
      try {
        csrKey = parseAndVerifyCsr(csr).spkiDer;
      } catch (err) {
        if (!(err instanceof CsrError)) throw err;
        throw invalidRequest(err.message, [{ field: 'csr', message: err.message }]);
      }
    }
    const withComma = uris.find((u) => u.includes(','));
    if (withComma)
      throw cannotIssue(
        `Vault takes URI SANs as a comma-separated list: ${JSON.stringify(withComma)} cannot be requested`,
      );
    const commonName = connection.commonName === undefined ? undefined : renderCommonName(connection.commonName, dp);
    const ttlSeconds = Math.floor(
      Math.min(dpCertExpirationMs(state.enabled), material.notAfter.getTime() - now) / 1000,
    );
    if (ttlSeconds <= 0) throw cannotIssue(`the CA of backend "${state.enabled.name}" has expired`);

    let leaf;
    try {
      leaf = await issueFromVault(connection, {
        csr,
        commonName,
        uris,
        ttlSeconds,
        timeoutMs: dpCertRequestTimeoutMs(state.enabled),
      });
      this.health.record(mesh, state.enabled.name, true);
    } catch (err) {
      if (err instanceof VaultUnavailable) {
        this.health.record(mesh, state.enabled.name, false, err.message);
        throw new DomainError({
          kind: 'unavailable',
          title: Titles.issueCertificate,
          detail: `the CA of backend "${state.enabled.name}" is unavailable: ${err.message}`,
          retryAfterSeconds: VAULT_RETRY_AFTER_SECONDS,
        });
      }
      if (err instanceof VaultRefused || err instanceof VaultBadAnswer) {
        this.health.record(mesh, state.enabled.name, true, err.message);
        throw upstreamFailed(`backend "${state.enabled.name}": ${err.message}`);
      }
      throw err;
    }
    return this.checked(mesh, state, leaf.certificatePem, leaf.privateKeyPem, csrKey, uris);
  }

  private checked(
    mesh: string,
    state: LegacyCaState,
    certificatePem: string,
    privateKeyPem: string | undefined,
    csrKey: Buffer | undefined,
    uris: string[],
  ): IssuedLeaf {
    const backend = state.enabled.name;
    const bad = (why: string): never => {
      this.health.record(mesh, backend, true, `unusable certificate: ${why}`);
      throw upstreamFailed(`backend "${backend}": Vault returned a certificate meshcp will not hand out: ${why}`);
    };
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certificatePem);
    } catch {
      return bad('it does not parse as X.509');
    }
    const issuer = new X509Certificate(state.enabledMaterial.issuerChainPem);
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
      bad(
        `it is not signed by the CA cached when the backend was added (root SHA-256 ${state.enabledMaterial.rootSha256}); if Vault's CA changed, add a new backend for it and rotate`,
      );
    }
    let expectedKey = csrKey;
    if (!expectedKey && privateKeyPem) {
      try {
        expectedKey = spki(createPrivateKey(privateKeyPem));
      } catch {
        bad('its private key does not parse');
      }
    }
    if (!expectedKey || !spki(cert.publicKey).equals(expectedKey)) bad('its public key is not the requested one');
    const got = uriSansOf(cert);
    if (got.length !== uris.length || !uris.every((u) => got.includes(u))) {
      bad(`its URI SANs are [${got.join(', ')}], not [${uris.join(', ')}] (check the role's allowed_uri_sans)`);
    }
    if (cert.ca) bad('it is a CA certificate');
    return {
      certificatePem: cert.toString(),
      serialHex: cert.serialNumber.toUpperCase(),
      ...(privateKeyPem ? { privateKeyPem } : {}),
      notBefore: new Date(cert.validFrom).getTime(),
      notAfter: new Date(cert.validTo).getTime(),
    };
  }
}
