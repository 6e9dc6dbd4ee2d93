import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { CaMaterialError, CaPrepareError, type SecretSource, type SecretToWrite } from '../ca/backend.js';
import { knownBackendTypes, pluginFor } from '../ca/backend-registry.js';
import { loadMeshCa, storeSecretSource } from '../ca/ca-manager.js';
import { conflict, invalidResource, badRequest, notFound, Titles } from '../errors.js';
import type { MeshEvents } from '../mesh-events.js';
import { MeshSchema, validateMeshStructure, type Mesh, type CaBackend } from '../resources/mesh.js';
import { validateMeshNameOnCreate } from '../resources/names.js';
import { checkResourceRequest, specOf } from '../resources/request-checks.js';
import { describeShapeError, parseShape, reroot, type Violation } from '../resources/violations.js';
import { canonicalConfKey, evaluateRotation, type FleetFacts, type MtlsView } from '../rotation/rules.js';
import type { FactsStore } from '../store/facts-store.js';
import type { ListQuery, ResourceStore, StoredResource } from '../store/resource-store.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface WriteOptions {
  /** Run every check and answer as the real call would, but write nothing. */
  dryRun: boolean;
  /** Skip rotation rules 1-3 (admins only; logged). */
  force: boolean;
}

export type WriteOutcome = 'created' | 'updated';

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

export class MeshService {
  private readonly secrets: SecretSource;

  constructor(
    private readonly store: ResourceStore,
    private readonly facts: FactsStore,
    private readonly events: MeshEvents,
    private readonly log: Logger,
    /** Commits certificates answered but not yet recorded, so the rotation rules see every one of them. */
    private readonly flushPendingIssues: () => void = () => {},
  ) {
    this.secrets = storeSecretSource(store);
  }

  get(name: string): StoredResource<Mesh> {
    const mesh = this.store.get<Mesh>('Mesh', '', name);
    if (!mesh) throw notFound(Titles.retrieve);
    return mesh;
  }

  exists(name: string): boolean {
    return this.store.exists('Mesh', '', name);
  }

  list(query: ListQuery) {
    return this.store.list<Mesh>('Mesh', query);
  }

  async put(name: string, body: unknown, options: WriteOptions): Promise<WriteOutcome> {
    const mesh = this.parse(name, body);
    // Key generation is slow, so it happens before the transaction; the transaction re-reads everything and
    // uses the prepared material only if it is still missing. A concurrent writer can only make it redundant.
    for (let attempt = 0; ; attempt++) {
      const prepared = await this.prepare(name, mesh);
      try {
        this.flushPendingIssues(); // no await between this and the write transaction
        const outcome = this.write(name, mesh, prepared, options);
        if (!options.dryRun) this.events.meshChanged(name);
        return outcome;
      } catch (err) {
        if (!(err instanceof PreparedMaterialMissing) || attempt >= 2) throw err;
      }
    }
  }

  delete(name: string, options: Pick<WriteOptions, 'dryRun'>): void {
    this.store.transaction(() => {
      if (!this.store.exists('Mesh', '', name)) throw notFound(Titles.delete);
      if (this.store.count('Dataplane', name) > 0) {
        throw invalidResource(Titles.delete, [
          { field: 'mesh', message: 'unable to delete mesh, there are still some dataplanes attached' },
        ]);
      }
      if (options.dryRun) return;
      this.store.delete('Mesh', '', name);
      this.store.deleteMeshContents(name);
      this.facts.deleteMesh(name);
    });
    if (!options.dryRun) this.events.meshChanged(name);
  }

  /** Shape, request and structural checks: pure, before any slow work. */
  private parse(name: string, body: unknown): Mesh {
    const shape = parseShape(MeshSchema, body);
    if (!shape.ok) throw badRequest(describeShapeError('Mesh', shape.violations), shape.violations);
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
    return mesh;
  }

  private async prepare(name: string, mesh: Mesh): Promise<SecretToWrite[]> {
    const violations: Violation[] = [];
    const pending = await Promise.all(
      (mesh.mtls?.backends ?? []).map((backend, i) =>
        pluginFor(backend.type)
          .prepare(name, backend, this.secrets)
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

  private write(name: string, mesh: Mesh, pending: SecretToWrite[], options: WriteOptions): WriteOutcome {
    return this.store.transaction(() => {
      const now = Date.now();
      const stored = this.store.get<Mesh>('Mesh', '', name);
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
        stored ? this.mtlsView(name, stored.spec, this.secrets) : undefined,
        this.mtlsView(name, mesh, secrets, ca),
        this.fleetAt(name, now),
      );
      if (rotation.length > 0) {
        if (!options.force) {
          const retryable = rotation.every((v) => v.retryable);
          throw conflict(Titles.update, rotation, retryable ? ROTATION_RETRY_AFTER_SECONDS : undefined);
        }
        if (!options.dryRun) {
          this.log.warn({ event: 'force-used', mesh: name, skippedRules: rotation.map((v) => `${v.rule}: ${v.message}`) }, 'force=true: CA rotation rules skipped');
        }
      }
      const outcome: WriteOutcome = stored ? 'updated' : 'created';
      if (options.dryRun) return outcome;

      for (const secret of pending) {
        if (secret.replace || !this.store.exists('Secret', name, secret.name)) {
          this.store.upsert('Secret', name, secret.name, { data: secret.data.toString('base64') }, {});
        }
      }
      this.store.upsert('Mesh', '', name, specOf(mesh), mesh.labels ?? {});
      if (ca) this.facts.recordBundleVersion(name, ca.bundleVersion, ca.enabled.name, ca.bundleBackends, now);
      return outcome;
    });
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
