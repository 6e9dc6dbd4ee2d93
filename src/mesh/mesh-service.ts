import type { Logger } from 'pino';
import { systemClock, type Clock } from '../domain/clock.js';
import { CaMaterialError, CaPrepareError, type SecretSource, type SecretToWrite } from '../ca/backend.js';
import { knownBackendTypes, pluginFor } from '../ca/backend-registry.js';
import { generateKeyPairAsync } from '../ca/keys.js';
import { loadMeshCa, storeSecretSource } from '../ca/ca-manager.js';
import { conflict, invalidResource, invalidRequest, Titles } from '../domain/errors.js';
import { MeshSchema, validateMeshStructure, type Mesh, type CaBackend } from '../resources/mesh.js';
import { validateMeshNameOnCreate } from '../resources/names.js';
import { checkResourceRequest, specOf } from '../resources/request-checks.js';
import { describeShapeError, parseShape, reroot, type Violation } from '../resources/violations.js';
import { canonicalConfKey, evaluateRotation, type FleetFacts, type MtlsView } from '../rotation/rules.js';
import type { FactsStore } from '../store/facts-store.js';
import type { ResourceAt, ResourceDescriptor, WriteCheck } from '../services/resource-manager.js';
import type { ResourceStore } from '../store/resource-store.js';

export type { WriteOptions, WriteOutcome } from '../services/resource-manager.js';

/** Seconds a refused rotation step should wait: dataplanes acknowledge and re-issue within a few polls. */
export const ROTATION_RETRY_AFTER_SECONDS = 5;

export const signingKeySecretName = (mesh: string) => `dataplane-token-signing-key-${mesh}-1`;

/** Builtin CA secrets generated before the transaction, visible to checks inside it before they are written. */
class PreparedSecrets implements SecretSource {
  constructor(
    private readonly stored: SecretSource,
    private readonly mesh: string,
    readonly pending: SecretToWrite[],
  ) {}

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
export class MeshDescriptor implements ResourceDescriptor<ParsedMesh, SecretToWrite[]> {
  readonly type = 'Mesh' as const;
  readonly scope = 'global' as const;
  private readonly secrets: SecretSource;

  constructor(
    private readonly store: ResourceStore,
    private readonly facts: FactsStore,
    private readonly log: Logger,
    /** Commits certificates answered but not yet recorded, so the rotation rules see every one of them. */
    private readonly flushPendingIssues: () => void = () => {},
    private readonly clock: Clock = systemClock,
  ) {
    this.secrets = storeSecretSource(store);
  }

  parse(at: ResourceAt, body: unknown): ParsedMesh {
    const name = at.name;
    const shape = parseShape(MeshSchema, body);
    if (!shape.ok) throw invalidRequest(describeShapeError('Mesh', shape.violations), shape.violations);
    const mesh = shape.value;
    // As Kuma: the body is validated first; a URL/body mismatch is reported only for an otherwise valid body.
    const specViolations = validateMeshStructure(mesh, knownBackendTypes);
    if (specViolations.length === 0) {
      (mesh.mtls?.backends ?? []).forEach((backend, i) => {
        specViolations.push(...reroot(pluginFor(backend.type).validateConf(backend), `mtls.backends[${i}].conf`));
      });
    }
    if (specViolations.length > 0) throw invalidResource(Titles.process, specViolations);
    const violations = checkResourceRequest({ type: 'Mesh', name }, mesh);
    if (violations.length > 0) throw invalidResource(Titles.process, violations);
    return { mesh, spec: specOf(mesh), labels: mesh.labels ?? {} };
  }

  /** Builtin CA keys and the token signing key, generated only if still missing; the transaction re-checks. */
  async prepare(at: ResourceAt, parsed: ParsedMesh): Promise<SecretToWrite[]> {
    const name = at.name;
    const now = new Date(this.clock.now());
    const violations: Violation[] = [];
    const pending = await Promise.all(
      (parsed.mesh.mtls?.backends ?? []).map((backend, i) =>
        pluginFor(backend.type)
          .prepare(name, backend, this.secrets, now)
          .catch((err: unknown) => {
            if (!(err instanceof CaPrepareError)) throw err;
            violations.push(...reroot(err.violations, `mtls.backends[${i}].conf`));
            return [];
          }),
      ),
    );
    if (violations.length > 0) throw invalidResource(Titles.process, violations);
    if (!this.store.exists('Secret', name, signingKeySecretName(name))) {
      const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
      pending.push([
        { name: signingKeySecretName(name), data: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' })) },
      ]);
    }
    return pending.flat();
  }

  beforeTransaction(): void {
    this.flushPendingIssues();
  }

  retryWhen(err: unknown): boolean {
    return err instanceof PreparedMaterialMissing;
  }

  checkWrite({ at, parsed, stored, prepared: pending, request }: WriteCheck<ParsedMesh, SecretToWrite[]>): () => void {
    const name = at.name;
    const mesh = parsed.mesh;
    const now = this.clock.now();
    if (!stored) {
      // Kuma checks this in its mesh manager's create, so it answers with the create title.
      const violations = validateMeshNameOnCreate(name);
      if (violations.length > 0) throw invalidResource(Titles.create, violations);
    }
    const secrets = new PreparedSecrets(this.secrets, name, pending);
    const backends = mesh.mtls?.backends ?? [];
    for (const backend of backends) {
      if (!pluginFor(backend.type).materialExists(name, backend, secrets)) throw new PreparedMaterialMissing();
    }
    if (!mesh.mtls?.skipValidation) {
      const violations: Violation[] = backends.flatMap((backend, i) =>
        reroot(pluginFor(backend.type).validateMaterial(name, backend, secrets, new Date(now)), `mtls.backends[${i}].conf`),
      );
      if (violations.length > 0) throw invalidResource(Titles.process, violations);
    }
    const ca = this.loadCa(name, mesh, secrets);

    const rotation = evaluateRotation(
      stored ? this.mtlsView(name, stored.spec as Mesh, this.secrets) : undefined,
      this.mtlsView(name, mesh, secrets, ca),
      this.fleetAt(name, now),
    );
    if (rotation.length > 0) {
      if (!request.force) {
        const retryable = rotation.every((v) => v.retryable);
        throw conflict(Titles.update, rotation, retryable ? ROTATION_RETRY_AFTER_SECONDS : undefined);
      }
      if (!request.dryRun) {
        this.log.warn({ event: 'force-used', mesh: name, skippedRules: rotation.map((v) => `${v.rule}: ${v.message}`) }, 'force=true: CA rotation rules skipped');
      }
    }
    return () => {
      for (const secret of pending) {
        if (secret.replace || !this.store.exists('Secret', name, secret.name)) {
          this.store.upsert('Secret', name, secret.name, { data: secret.data.toString('base64') }, {});
        }
      }
      if (ca) this.facts.recordBundleVersion(name, ca.bundleVersion, ca.enabled.name, ca.bundleBackends, now);
    };
  }

  checkDelete(at: ResourceAt): void {
    if (this.store.count('Dataplane', at.name) > 0) {
      throw invalidResource(Titles.delete, [{ field: 'mesh', message: 'unable to delete mesh, there are still some dataplanes attached' }]);
    }
  }

  afterDelete(at: ResourceAt): void {
    this.store.deleteMeshContents(at.name);
    this.facts.deleteMesh(at.name);
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

  private fleetAt(mesh: string, now: number): FleetFacts {
    return {
      notTrusting: (backend, fingerprint) => this.facts.activeNotTrusting(mesh, backend, fingerprint, now),
      issuedBy: (backend) => this.facts.activeIssuedBy(mesh, backend, now),
    };
  }
}
