import type { Principal } from '../domain/principal.js';
import { invalidResource, meshNotFound, notFound, Titles } from '../domain/errors.js';
import type { MeshEvents } from '../mesh-events.js';
import { labelsForWrite, UPDATE_REFUSED_TITLE } from '../resources/computed-labels.js';
import type { KnownKind } from '../resources/kinds.js';
import { parseKindBody, type ResourceAt } from '../resources/parse-body.js';
import { specOf } from '../resources/request-checks.js';
import type { Violation } from '../resources/violations.js';
import type { ListQuery, ResourceType, StoredResource } from '../store/resource-store.js';
import type { Store, StoreTx } from '../store/store.js';

export interface WriteOptions {
  /** Run every check and answer as the real call would, but write nothing. */
  dryRun: boolean;
  /** Skip the rotation rules, turning mTLS off under active dataplanes included (admins only; logged). */
  force: boolean;
}

export type WriteOutcome = 'created' | 'updated';

/** Who writes, and how: the principal matters to types with per-caller rules (a dataplane's token tags). */
interface WriteRequest extends WriteOptions {
  principal: Principal;
}

/** A request body that passed a type's pure checks: what gets stored. */
export interface ParsedResource {
  spec: object;
  labels: Record<string, string>;
}

export type { ResourceAt };

export interface WriteCheck<P extends ParsedResource, Prepared> {
  /** The write's transaction: rules read (and writes go) through it, never through the store outside it. */
  tx: StoreTx;
  at: ResourceAt;
  parsed: P;
  stored: StoredResource | undefined;
  prepared: Prepared;
  request: WriteRequest;
}

/** A body that passed its shape check, as the kind's schema types it. */
type Body = { labels?: Record<string, string> } & Record<string, unknown>;

/**
 * Everything that makes one kind's writes different beyond its entry in the kinds table; the manager does the rest
 * (the body's shape and Kuma's request checks, mesh existence, the transaction, dry runs, the write, change events).
 * A kind whose writes need no rule that reads the store needs none (see `plainDescriptor`).
 */
export interface ResourceDescriptor<P extends ParsedResource = ParsedResource, Prepared = undefined, B = Body> {
  readonly kind: KnownKind;
  /** Rules of the body beyond the kind's own (those needing more than the resources layer): pure, 400s. */
  validate?(value: B, at: ResourceAt): Violation[];
  /** Once the body is accepted: per-caller checks (throw), and what is stored (default: its spec and labels). */
  admit?(value: B, at: ResourceAt, request: WriteRequest): P;
  /** Slow work before the transaction (key generation); its result reaches `checkWrite`. */
  prepare?(at: ResourceAt, parsed: P): Promise<Prepared>;
  /** Called right before the write transaction (commit facts the rules read). */
  beforeTransaction?(): Promise<void>;
  /**
   * Inside the write transaction, before the resource is written: rules that read the store (throw to refuse).
   * May return what to write along with the resource; it runs after it, and not on dry runs.
   */
  checkWrite?(check: WriteCheck<P, Prepared>): Promise<((tx: StoreTx) => Promise<void>) | void>;
  /** The put starts over (prepare included) when its transaction throws this; at most three attempts. */
  retryWhen?(err: unknown): boolean;
  /** Inside the delete transaction, once the resource is known to exist: refusals (in use, not empty). */
  checkDelete?(tx: StoreTx, at: ResourceAt, options: WriteOptions): Promise<void>;
  /** Inside the delete transaction, not on dry runs: what goes with the resource (facts, contained resources). */
  afterDelete?(tx: StoreTx, at: ResourceAt): Promise<void>;
  /** Kuma's new-model kinds: sets the status of resources being read (computed from the store and facts). */
  withStatus?(items: StoredResource[]): Promise<void>;
  /** The mesh whose CA view a committed write or delete of this resource may change, if any. */
  meshChangedBy?(at: ResourceAt): string | undefined;
}

/** One resource type's operations, as routes and services use them. */
export interface ResourceHandle<Spec = Record<string, unknown>> {
  readonly type: ResourceType;
  readonly scope: 'global' | 'mesh';
  /** 404 (the mesh first, as Kuma) unless it exists. */
  get(mesh: string, name: string): Promise<StoredResource<Spec>>;
  exists(mesh: string, name: string): Promise<boolean>;
  list(query: ListQuery): Promise<{ total: number; items: StoredResource<Spec>[] }>;
  put(mesh: string, name: string, body: unknown, request: WriteRequest): Promise<WriteOutcome>;
  /** `force` skips the rules a kind lets an admin skip (logged); deletes of other kinds ignore it. */
  delete(
    mesh: string,
    name: string,
    options: Pick<WriteOptions, 'dryRun'> & Partial<Pick<WriteOptions, 'force'>>,
  ): Promise<void>;
}

/**
 * The one write pipeline of every resource type: mesh existence, checks, transaction, dry run, write, events.
 * Every write locks the mesh it belongs to (a Mesh its own name): on PostgreSQL, two instances never interleave the
 * check and the write of one mesh's resources (rotation rules, secrets in use, dataplanes of a mesh being deleted).
 */
export class ResourceManager {
  constructor(
    private readonly store: Store,
    private readonly events: MeshEvents,
  ) {}

  async requireMesh(mesh: string, tx: Pick<StoreTx, 'resources'> = this.store): Promise<void> {
    if (!(await tx.resources.exists('Mesh', '', mesh))) throw meshNotFound();
  }

  handle<Spec, P extends ParsedResource, Prepared, B>(
    descriptor: ResourceDescriptor<P, Prepared, B>,
  ): ResourceHandle<Spec> {
    const { type, scope } = descriptor.kind;
    const inMesh = (mesh: string) => (scope === 'mesh' ? mesh : '');
    return {
      type,
      scope,
      get: async (mesh, name) => {
        // A mesh-scoped resource exists only inside an existing mesh (its write checks the mesh in the transaction, a
        // mesh is deleted with its contents): the mesh is read only to tell which 404 a miss is (one read per hit saved
        // on every dataplane request).
        const found = await this.store.resources.get<Spec>(type, inMesh(mesh), name);
        if (found) {
          await descriptor.withStatus?.([found as StoredResource]);
          return found;
        }
        if (scope === 'mesh') await this.requireMesh(mesh);
        throw notFound(Titles.retrieve);
      },
      exists: (mesh, name) => this.store.resources.exists(type, inMesh(mesh), name),
      list: async (query) => {
        if (scope === 'mesh' && query.mesh !== undefined) await this.requireMesh(query.mesh);
        const page = await this.store.resources.list<Spec>(type, query);
        await descriptor.withStatus?.(page.items as StoredResource[]);
        return page;
      },
      put: (mesh, name, body, request) => this.put(descriptor, { mesh: inMesh(mesh), name }, body, request),
      delete: (mesh, name, options) => this.delete(descriptor, { mesh: inMesh(mesh), name }, options),
    };
  }

  private async put<P extends ParsedResource, Prepared, B>(
    d: ResourceDescriptor<P, Prepared, B>,
    at: ResourceAt,
    body: unknown,
    request: WriteRequest,
  ): Promise<WriteOutcome> {
    if (d.kind.scope === 'mesh') await this.requireMesh(at.mesh);
    const value = parseKindBody<B>(d.kind, at, body, d.validate && ((v) => d.validate!(v, at)));
    const parsed = d.admit ? d.admit(value, at, request) : (defaultParsed(d.kind, value as Body) as P);
    // Slow work happens before the transaction, which re-reads everything: a concurrent writer can only make the
    // prepared work redundant (the descriptor then asks for a retry).
    for (let attempt = 1; ; attempt++) {
      const prepared = (d.prepare ? await d.prepare(at, parsed) : undefined) as Prepared;
      try {
        await d.beforeTransaction?.();
        const outcome = await this.store.transaction(
          async (tx): Promise<WriteOutcome> => {
            if (d.kind.scope === 'mesh') await this.requireMesh(at.mesh, tx);
            const stored = await tx.resources.get(d.kind.type, at.mesh, at.name);
            const alongside = await d.checkWrite?.({ tx, at, parsed, stored, prepared, request });
            let labels = parsed.labels;
            if (d.kind.labels === 'computed') {
              const write = labelsForWrite(d.kind.type, at.mesh, parsed.spec, parsed.labels, stored);
              if (write.violations.length > 0) throw invalidResource(UPDATE_REFUSED_TITLE, write.violations);
              labels = write.labels;
            }
            if (request.dryRun) return stored ? 'updated' : 'created';
            const written = await tx.resources.upsert(d.kind.type, at.mesh, at.name, parsed.spec, labels);
            await alongside?.(tx);
            await this.announceInTransaction(tx, d, at);
            return written;
          },
          lockFor(d, at),
        );
        this.announce(d, at, request.dryRun);
        return outcome;
      } catch (err) {
        if (!d.retryWhen?.(err) || attempt >= 3) throw err;
      }
    }
  }

  private async delete<P extends ParsedResource, Prepared, B>(
    d: ResourceDescriptor<P, Prepared, B>,
    at: ResourceAt,
    options: Pick<WriteOptions, 'dryRun'> & Partial<Pick<WriteOptions, 'force'>>,
  ): Promise<void> {
    if (d.kind.scope === 'mesh') await this.requireMesh(at.mesh);
    await this.store.transaction(
      async (tx) => {
        if (!(await tx.resources.exists(d.kind.type, at.mesh, at.name))) throw notFound(Titles.delete);
        await d.checkDelete?.(tx, at, { dryRun: options.dryRun, force: options.force ?? false });
        if (options.dryRun) return;
        await tx.resources.delete(d.kind.type, at.mesh, at.name);
        await d.afterDelete?.(tx, at);
        await this.announceInTransaction(tx, d, at);
      },
      lockFor(d, at),
    );
    this.announce(d, at, options.dryRun);
  }

  /** Other instances hear of the change only if the transaction commits (NOTIFY is transactional). */
  private async announceInTransaction(
    tx: StoreTx,
    d: Pick<ResourceDescriptor, 'meshChangedBy'>,
    at: ResourceAt,
  ): Promise<void> {
    const mesh = d.meshChangedBy?.(at);
    if (mesh !== undefined) await tx.announceMeshChange(mesh);
  }

  /** Emitted only after the transaction committed, so caches and long-polls never see an uncommitted state. */
  private announce(d: Pick<ResourceDescriptor, 'meshChangedBy'>, at: ResourceAt, dryRun: boolean): void {
    if (dryRun) return;
    const mesh = d.meshChangedBy?.(at);
    if (mesh !== undefined) this.events.meshChanged(mesh);
  }
}

/** The mesh a write belongs to; global resources other than meshes (GlobalSecret) need no lock. */
function lockFor(d: { kind: KnownKind }, at: ResourceAt) {
  if (d.kind.type === 'Mesh') return { meshes: [at.name] };
  return d.kind.scope === 'mesh' ? { meshes: [at.mesh] } : {};
}

/**
 * What a body stores when its kind says nothing else: its spec (a new-model kind's `spec` member, normalized; never
 * its `status`) and its labels.
 */
function defaultParsed(kind: KnownKind, value: Body): ParsedResource {
  if (kind.envelope) {
    const spec = value.spec as object;
    return {
      spec: kind.envelope.normalize ? kind.envelope.normalize(spec as never) : spec,
      labels: value.labels ?? {},
    };
  }
  return { spec: specOf(value), labels: value.labels ?? {} };
}

/** The descriptor of a kind whose writes need no rules beyond its entry in the kinds table. */
export function plainDescriptor(kind: KnownKind): ResourceDescriptor {
  return { kind };
}
