import type { CaBackend } from '../resources/mesh.js';
import type { Violation } from '../resources/violations.js';
import type { RsaKeySource } from './keys.js';
import type { VaultConnection } from './vault-client.js';

/** Reads the decoded `data` of a secret in a mesh, synchronously (inside the write transaction). */
export interface SecretSource {
  read(mesh: string, name: string): Buffer | undefined;
}

export interface SecretToWrite {
  name: string;
  data: Buffer;
  /** Overwrite a stored secret of that name (a vault backend's cached chain after its conf changed). */
  replace?: boolean;
}

/** Everything the CA manager needs from one backend, loaded once and cached until the mesh or its secrets change. */
export interface CaMaterial {
  backend: string;
  type: string;
  /** PEM of the certificates peers must trust for this backend (the whole configured chain). */
  trustPem: string;
  /** SHA-256 over the trusted certificates: tells two generations of material under one name apart. */
  fingerprint: string;
  /** Certificates (PEM) between the issuing CA and the root, appended to every leaf. */
  intermediatesPem: string;
  /** The issuing CA's certificate chain (issuer first) and key, for the signer. */
  issuerChainPem: string;
  issuerKeyPem: string;
  notAfter: Date;
  /** The root certificate's SHA-256 fingerprint (colon-separated hex), for operators to compare. */
  rootSha256: string;
  /** Set when the CA key stays remote (vault): leaves are issued by that Vault, not signed here. */
  vault?: VaultConnection;
}

export class CaMaterialError extends Error {}

/** `prepare` found the conf unusable (credentials unreadable, Vault unreachable or refusing); fields relative to conf. */
export class CaPrepareError extends Error {
  constructor(readonly violations: Violation[]) {
    super(violations.map((v) => `${v.field}: ${v.message}`).join('; '));
  }
}

/**
 * One CA backend type. Adding `vault` means adding a plugin; rotation rules and routes do not change.
 * Field paths in returned violations are relative to the backend's `conf`.
 */
export interface CaBackendPlugin {
  readonly type: string;
  /** Conf shape checks; always run (an unparseable conf cannot be provisioned). */
  validateConf(backend: CaBackend): Violation[];
  /** Material checks (load, key pair, CA flags, validity); skipped by `mtls.skipValidation`. */
  validateMaterial(mesh: string, backend: CaBackend, secrets: SecretSource, now: Date): Violation[];
  /** Names of the mesh secrets this backend reads. */
  usedSecrets(mesh: string, backend: CaBackend): string[];
  /**
   * Slow work done before the write transaction (key generation): secrets to create if they are still absent.
   * `now` starts the validity of anything generated (the control plane's clock, not the wall clock); `rsaKeys`
   * makes any key pair it needs.
   */
  prepare(
    mesh: string,
    backend: CaBackend,
    secrets: SecretSource,
    now: Date,
    rsaKeys: RsaKeySource,
  ): Promise<SecretToWrite[]>;
  /** Whether the backend's CA material already exists in the store (builtin); provided material always "exists". */
  materialExists(mesh: string, backend: CaBackend, secrets: SecretSource): boolean;
  load(mesh: string, backend: CaBackend, secrets: SecretSource): CaMaterial;
}
