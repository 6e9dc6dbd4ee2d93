import { pluginFor } from '../ca/backend-registry.js';
import { badRequest, conflict, invalidResource, meshNotFound, notFound, Titles } from '../errors.js';
import type { MeshEvents } from '../mesh-events.js';
import type { Mesh } from '../resources/mesh.js';
import { checkResourceRequest } from '../resources/request-checks.js';
import { labelsForWrite, UPDATE_REFUSED_TITLE } from '../resources/computed-labels.js';
import { GlobalSecretSchema, SecretSchema, decodeBase64Strict } from '../resources/secret.js';
import { describeShapeError, parseShape } from '../resources/violations.js';
import type { ListQuery, ResourceStore, StoredResource } from '../store/resource-store.js';
import type { WriteOptions, WriteOutcome } from '../mesh/mesh-service.js';

export type SecretKind = 'Secret' | 'GlobalSecret';
export interface SecretSpec {
  data?: string;
}

/** Mesh-scoped secrets (mesh = their mesh) and global secrets (mesh = ''). */
export class SecretService {
  constructor(
    private readonly store: ResourceStore,
    private readonly events: MeshEvents,
  ) {}

  get(kind: SecretKind, mesh: string, name: string): StoredResource<SecretSpec> {
    this.requireMesh(kind, mesh);
    const secret = this.store.get<SecretSpec>(kind, mesh, name);
    if (!secret) throw notFound(Titles.retrieve);
    return secret;
  }

  list(kind: SecretKind, query: ListQuery) {
    if (query.mesh !== undefined) this.requireMesh(kind, query.mesh);
    return this.store.list<SecretSpec>(kind, query);
  }

  put(kind: SecretKind, mesh: string, name: string, body: unknown, options: Pick<WriteOptions, 'dryRun'>): WriteOutcome {
    this.requireMesh(kind, mesh);
    const shape = parseShape(kind === 'Secret' ? SecretSchema : GlobalSecretSchema, body);
    if (!shape.ok) throw badRequest(describeShapeError(kind, shape.violations), shape.violations);
    const secret = shape.value;
    const violations = checkResourceRequest(
      kind === 'Secret' ? { type: kind, name, mesh } : { type: kind, name },
      secret as { type: string; name: string; mesh?: string; labels?: Record<string, string> },
    );
    if (violations.length > 0) throw invalidResource(Titles.process, violations);
    // Store the canonical standard base64, whichever alphabet or padding the client used.
    const data = secret.data === undefined ? undefined : decodeBase64Strict(secret.data)!.toString('base64');

    const outcome = this.store.transaction((): WriteOutcome => {
      const stored = this.store.get<SecretSpec>(kind, mesh, name);
      if (stored && kind === 'Secret' && (stored.spec.data ?? '') !== (data ?? '')) {
        const users = this.backendsUsing(mesh, name);
        if (users.length > 0) {
          throw conflict(Titles.update, [
            {
              field: 'data',
              message: `The secret "${name}" is used in Mesh "${mesh}" by mTLS backend "${users[0]}": replacing its content would swap the CA under running dataplanes. Add a backend with a new secret and rotate to it instead.`,
            },
          ]);
        }
      }
      const spec = data === undefined ? {} : { data };
      const write = labelsForWrite(kind, mesh, spec, secret.labels, stored);
      if (write.violations.length > 0) throw invalidResource(UPDATE_REFUSED_TITLE, write.violations);
      if (options.dryRun) return stored ? 'updated' : 'created';
      return this.store.upsert(kind, mesh, name, spec, write.labels);
    });
    if (!options.dryRun && kind === 'Secret') this.events.meshChanged(mesh);
    return outcome;
  }

  delete(kind: SecretKind, mesh: string, name: string, options: Pick<WriteOptions, 'dryRun'>): void {
    this.requireMesh(kind, mesh);
    this.store.transaction(() => {
      if (!this.store.exists(kind, mesh, name)) throw notFound(Titles.delete);
      if (kind === 'Secret') {
        const violations = this.backendsUsing(mesh, name).map((backend) => ({
          field: 'name',
          message: `The secret "${name}" that you are trying to remove is currently in use in Mesh "${mesh}" in mTLS backend "${backend}". Please remove the reference from the "${backend}" backend before removing the secret.`,
        }));
        if (violations.length > 0) throw invalidResource(Titles.delete, violations);
      }
      if (!options.dryRun) this.store.delete(kind, mesh, name);
    });
    if (!options.dryRun && kind === 'Secret') this.events.meshChanged(mesh);
  }

  /** Names of the backends of `mesh` (enabled or not) that read this secret. */
  private backendsUsing(mesh: string, secretName: string): string[] {
    const stored = this.store.get<Mesh>('Mesh', '', mesh);
    return (stored?.spec.mtls?.backends ?? [])
      .filter((backend) => pluginFor(backend.type).usedSecrets(mesh, backend).includes(secretName))
      .map((backend) => backend.name);
  }

  private requireMesh(kind: SecretKind, mesh: string): void {
    if (kind === 'Secret' && !this.store.exists('Mesh', '', mesh)) throw meshNotFound();
  }
}
