import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.js';
import {
  CaMaterialError,
  CaPrepareError,
  type FileSourcePolicy,
  type SecretSource,
  type SecretToWrite,
} from '../ca/backend.js';
import { knownBackendTypes, pluginFor } from '../ca/backend-registry.js';
import { generateRsaKeyPair, type RsaKeySource } from '../ca/keys.js';
import { loadBackendSecrets, loadMeshCa } from '../ca/ca-manager.js';
import { conflict, invalidResource, Titles } from '../domain/errors.js';
import { signingKeySecretName } from '../resources/backend-secrets.js';
import { kindOf } from '../resources/kinds.js';
import { validateMeshStructure, type Mesh, type CaBackend } from '../resources/mesh.js';
import { validateMeshNameOnCreate } from '../resources/names.js';
import { specOf } from '../resources/request-checks.js';
import { reroot, type Violation } from '../resources/violations.js';
import { canonicalConfKey, evaluateRotation, type FleetFacts, type MtlsView } from '../rotation/rules.js';
import type { FactsStore } from '../store/facts-store.js';
import type { ResourceAt, ResourceDescriptor, WriteCheck } from '../resource-manager/resource-manager.js';
import type { Store, StoreTx } from '../store/store.js';
import { enforce } from '../identity/identity-guard.js';
import { mtlsOffGuard } from '../identity/identity-write-guard.js';

export type { WriteOptions } from '../resource-manager/resource-manager.js';

/** Seconds a refused rotation step should wait: dataplanes acknowledge and re-issue within a few polls. */
const ROTATION_RETRY_AFTER_SECONDS = 5;

/** Builtin CA secrets generated before the transaction, visible to checks inside it before they are written. */
class PreparedSecrets implements SecretSource {
  constructor(
    private readonly stored: SecretSource,
    private readonly mesh: string,
    readonly pending: SecretToWrite[],
  ) {}

  get files(): FileSourcePolicy | undefined {
    return this.stored.files;
  }

  read(mesh: string, name: string): Buffer | undefined {
    const pending = mesh === this.mesh ? this.pending.find((s) => s.name === name) : undefined;
    if (pending?.replace) return pending.data;
    return this.stored.read(mesh, name) ?? pending?.data;
  }
}

class PreparedMaterialMissing extends Error {}

interface ParsedMesh {
  mesh: Mesh;
  spec: Record<string, unknown>;
  labels: Record<string, string>;
}

/**
 * The Mesh resource: CA material is prepared before the transaction (key generation is slow), then the material
 * checks and the rotation rules run inside it against what is stored, and the bundle version is recorded with it.
 */
export class MeshDescriptor implements ResourceDescriptor<ParsedMesh, SecretToWrite[], Mesh> {
  readonly kind = kindOf('Mesh');

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    /** Commits certificates answered but not yet recorded, so the rotation rules see every one of them. */
    private readonly flushPendingIssues: () => Promise<void> = async () => {},
    private readonly clock: Clock,
    /** Makes builtin CA keys and token signing keys (generated off the main thread in production). */
    private readonly rsaKeys: RsaKeySource = generateRsaKeyPair,
    /** Where `file` data sources may be read (MESHCP_FILE_SOURCE_DIRS, never the data directory). */
    private readonly files: FileSourcePolicy = { allowedDirs: [], deniedDirs: [] },
  ) {}

  /** Beyond the schema, as Kuma: the mesh's structure, then (on a sound structure) each backend's conf. */
  validate(mesh: Mesh): Violation[] {
    const violations = validateMeshStructure(mesh, knownBackendTypes);
    if (violations.length > 0) return violations;
    return (mesh.mtls?.backends ?? []).flatMap((backend, i) =>
      reroot(pluginFor(backend.type).validateConf(backend), `mtls.backends[${i}].conf`),
    );
  }

  admit(mesh: Mesh): ParsedMesh {
    return { mesh, spec: specOf(mesh), labels: mesh.labels ?? {} };
  }

  /** Builtin CA keys and the token signing key, generated only if still missing; the transaction re-checks. */
  async prepare(at: ResourceAt, parsed: ParsedMesh): Promise<SecretToWrite[]> {
    const name = at.name;
    const now = new Date(this.clock.now());
    const violations: Violation[] = [];
    const stored = await loadBackendSecrets(this.store.resources, name, parsed.mesh.mtls?.backends ?? [], this.files);
    const pending = await Promise.all(
      (parsed.mesh.mtls?.backends ?? []).map((backend, i) =>
        pluginFor(backend.type)
          .prepare(name, backend, stored, now, this.rsaKeys)
          .catch((err: unknown) => {
            if (!(err instanceof CaPrepareError)) throw err;
            violations.push(...reroot(err.violations, `mtls.backends[${i}].conf`));
            return [];
          }),
      ),
    );
    if (violations.length > 0) throw invalidResource(Titles.process, violations);
    if (!(await this.store.resources.exists('Secret', name, signingKeySecretName(name)))) {
      const { privateKey } = await this.rsaKeys(2048);
      pending.push([
        { name: signingKeySecretName(name), data: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' })) },
      ]);
    }
    return pending.flat();
  }

  beforeTransaction(): Promise<void> {
    return this.flushPendingIssues();
  }

  retryWhen(err: unknown): boolean {
    return err instanceof PreparedMaterialMissing;
  }

  async checkWrite({ tx, at, parsed, stored, prepared: pending, request }: WriteCheck<ParsedMesh, SecretToWrite[]>) {
    const name = at.name;
    const mesh = parsed.mesh;
    const now = this.clock.now();
    if (!stored) {
      // Kuma checks this in its mesh manager's create, so it answers with the create title.
      const violations = validateMeshNameOnCreate(name);
      if (violations.length > 0) throw invalidResource(Titles.create, violations);
    }
    const backends = mesh.mtls?.backends ?? [];
    const storedBackends = (stored?.spec as Mesh | undefined)?.mtls?.backends ?? [];
    const storedSecrets = await loadBackendSecrets(tx.resources, name, [...storedBackends, ...backends], this.files);
    const secrets = new PreparedSecrets(storedSecrets, name, pending);
    for (const backend of backends) {
      if (!pluginFor(backend.type).materialExists(name, backend, secrets)) throw new PreparedMaterialMissing();
    }
    if (!mesh.mtls?.skipValidation) {
      const violations: Violation[] = backends.flatMap((backend, i) =>
        reroot(
          pluginFor(backend.type).validateMaterial(name, backend, secrets, new Date(now)),
          `mtls.backends[${i}].conf`,
        ),
      );
      if (violations.length > 0) throw invalidResource(Titles.process, violations);
    }
    const ca = this.loadCa(name, mesh, secrets);

    let rotation = await evaluateRotation(
      stored ? this.mtlsView(name, stored.spec as Mesh, storedSecrets) : undefined,
      this.mtlsView(name, mesh, secrets, ca),
      fleetAt(tx.facts, name, now),
    );
    const storedOn = Boolean((stored?.spec as Mesh | undefined)?.mtls?.enabledBackend);
    if (storedOn && !mesh.mtls?.enabledBackend && (await hasNewModel(tx, name))) {
      // Rule 3 of the cut-over replaces rule 6 in a mesh of the new model: mTLS goes off once every active dataplane
      // holds a certificate from a Ready identity instead (dataplanes there keep being issued).
      rotation = rotation.filter((v) => v.rule !== 'disable');
      enforce(await mtlsOffGuard(tx, name, now, this.files), request, Titles.update, this.log, { mesh: name });
    }
    if (rotation.length > 0) {
      if (!request.force) {
        const retryable = rotation.every((v) => v.retryable);
        throw conflict(Titles.update, rotation, retryable ? ROTATION_RETRY_AFTER_SECONDS : undefined);
      }
      if (!request.dryRun) {
        this.log.warn(
          { event: 'force-used', mesh: name, skippedRules: rotation.map((v) => `${v.rule}: ${v.message}`) },
          'force=true: CA rotation rules skipped',
        );
      }
    }
    return async (write: StoreTx) => {
      for (const secret of pending) {
        if (secret.replace || !(await write.resources.exists('Secret', name, secret.name))) {
          await write.resources.upsert('Secret', name, secret.name, { data: secret.data.toString('base64') }, {});
        }
      }
      if (ca) await write.facts.recordBundleVersion(name, ca.bundleVersion, ca.enabled.name, ca.bundleBackends, now);
    };
  }

  async checkDelete(tx: StoreTx, at: ResourceAt): Promise<void> {
    if ((await tx.resources.count('Dataplane', at.name)) > 0) {
      throw invalidResource(Titles.delete, [
        { field: 'mesh', message: 'unable to delete mesh, there are still some dataplanes attached' },
      ]);
    }
  }

  async afterDelete(tx: StoreTx, at: ResourceAt): Promise<void> {
    await tx.resources.deleteMeshContents(at.name);
    await tx.facts.deleteMesh(at.name);
    await tx.fleet.deleteMesh(at.name);
  }

  meshChangedBy(at: ResourceAt): string {
    return at.name;
  }

  private loadCa(name: string, mesh: Mesh, secrets: SecretSource) {
    try {
      return loadMeshCa(name, mesh, secrets);
    } catch (err) {
      if (!(err instanceof CaMaterialError)) throw err;
      throw invalidResource(Titles.process, [{ field: 'mtls.backends', message: err.message }]);
    }
  }

  private mtlsView(name: string, mesh: Mesh, secrets: SecretSource, ca?: ReturnType<typeof loadMeshCa>): MtlsView {
    const fingerprints = new Map(ca?.bundleBackends.map((b) => [b.name, b.fingerprint]));
    return {
      enabledBackend: mesh.mtls?.enabledBackend ?? '',
      backends: (mesh.mtls?.backends ?? []).map((backend: CaBackend) => ({
        name: backend.name,
        type: backend.type,
        confKey: canonicalConfKey(backend.type, backend.conf),
        fingerprint: fingerprints.get(backend.name),
        materialExists: pluginFor(backend.type).materialExists(name, backend, secrets),
      })),
    };
  }
}

function fleetAt(facts: FactsStore, mesh: string, now: number): FleetFacts {
  return {
    notTrusting: (backend, fingerprint) => facts.activeNotTrusting(mesh, backend, fingerprint, now),
    issuedBy: (backend) => facts.activeIssuedBy(mesh, backend, now),
    active: () => facts.activeSample(mesh, now),
  };
}

/** Whether the mesh has any MeshIdentity or MeshTrust (the new identity model). */
async function hasNewModel(tx: StoreTx, mesh: string): Promise<boolean> {
  return (await tx.resources.count('MeshIdentity', mesh)) > 0 || (await tx.resources.count('MeshTrust', mesh)) > 0;
}
