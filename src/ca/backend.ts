import type { Dataplane } from '../resources/dataplane.js';
import type { CaBackend } from '../resources/mesh.js';
import type { Violation } from '../resources/violations.js';
import type { BackendContacts } from './backend-contacts.js';
import type { RsaKeySource } from './keys.js';
import type { SigningPool } from './signing-pool.js';

/** Reads the decoded `data` of a secret in a mesh, synchronously (inside the write transaction). */
export interface SecretSource {
  read(mesh: string, name: string): Buffer | undefined;
  /** Where `file` data sources may be read (src/ca/data-sources.ts); absent: nowhere. */
  readonly files?: FileSourcePolicy;
}

/** The operator's directories for `file` data sources, and those never read (the data directory). */
export interface FileSourcePolicy {
  /** Absolute directories `file` data sources may read from; empty: file sources are refused. */
  allowedDirs: readonly string[];
  /** Directories never read, even inside an allowed one. */
  deniedDirs: readonly string[];
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
}

/** The backend an issuer issues for: the mesh's enabled backend and its loaded material. */
export interface IssuingBackend {
  enabled: CaBackend;
  enabledMaterial: CaMaterial;
}

/** One dataplane certificate to issue. */
export interface LeafIssueRequest {
  mesh: string;
  /** The Dataplane it is for (a vault backend's commonName template reads its tags). */
  dataplane: Dataplane;
  /** PEM PKCS#10 from the dataplane; without it the issuer makes the key pair and returns its private key. */
  csr: string | undefined;
  uris: string[];
  /** The control plane's clock when the request was taken. */
  now: number;
}

export interface IssuedLeaf {
  certificatePem: string;
  serialHex: string;
  privateKeyPem?: string;
  notBefore: number;
  notAfter: number;
}

/**
 * Issues the dataplane certificates of one mesh's enabled backend; made once per mesh CA state. Refusals are domain
 * errors (an invalid CSR, an expired CA, an unavailable or refusing upstream), answered as they are.
 */
export interface CaIssuer {
  issue(request: LeafIssueRequest): Promise<IssuedLeaf>;
}

/** What issuers use of the running control plane (one per process, shared by every mesh). */
export interface IssuingServices {
  /** Signs with a local CA key off the main thread. */
  signing: SigningPool;
  /** Last contact with each backend whose CA is remote, for `/ca-rotation`. */
  contacts: BackendContacts;
}

/** A backend's own fields in its `/ca-rotation` entry (the contract names them; vault: `vault`, its last contact). */
export type BackendStatusFields = Record<string, unknown>;

export class CaMaterialError extends Error {}

/** `prepare` found the conf unusable (credentials unreadable, Vault unreachable or refusing); fields relative to conf. */
export class CaPrepareError extends Error {
  constructor(readonly violations: Violation[]) {
    super(violations.map((v) => `${v.field}: ${v.message}`).join('; '));
  }
}

/**
 * One CA backend type: it validates, loads and issues, and names the conf fields the store seals. Adding a type is
 * its plugin, its conf schema and one line in backend-registry.ts; rotation rules, routes and the store do not change.
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
  /**
   * The issuer of the enabled backend, from the material `load` returned (and the same secrets). Throws
   * CaMaterialError when that material cannot issue (a key that does not load).
   */
  issuer(mesh: string, backend: IssuingBackend, secrets: SecretSource, services: IssuingServices): CaIssuer;
  /**
   * Paths (dot-separated, relative to `conf`) of the data sources that may carry secrets inline: the store keeps
   * those sealed (see src/store/ca-key-sealing.ts).
   */
  readonly sealedFields: readonly string[];
  /** Fields this type adds to its `/ca-rotation` entry; none when absent. */
  statusFields?(mesh: string, backend: CaBackend, contacts: BackendContacts): BackendStatusFields;
}
