import type { Principal } from '../api/auth.js';
import { accessDenied, badRequest, invalidResource, meshNotFound, notFound, Titles } from '../errors.js';
import { DataplaneSchema, dataplaneTags, validateDataplane, type Dataplane } from '../resources/dataplane.js';
import { checkResourceRequest, specOf } from '../resources/request-checks.js';
import { describeShapeError, parseShape } from '../resources/violations.js';
import type { FactsStore } from '../store/facts-store.js';
import { spiffeProfileViolations, type CertProfile } from './cert-profile.js';
import type { ListQuery, ResourceStore, StoredResource } from '../store/resource-store.js';
import type { WriteOptions, WriteOutcome } from '../mesh/mesh-service.js';

/** A token bound to tags may only register a dataplane whose tags it allows (as Kuma). */
function tokenTagViolation(tokenTags: Record<string, string[]>, dp: Dataplane): string | undefined {
  const tags = dataplaneTags(dp);
  for (const [key, allowed] of Object.entries(tokenTags)) {
    const values = tags.get(key);
    if (!values) return `dataplane has no tag "${key}" required by the token`;
    for (const value of values) {
      if (!allowed.includes(value)) {
        return `dataplane contains tag "${key}" with value "${value}" which is not allowed with this token. Allowed values in token are [${allowed.join(' ')}]`;
      }
    }
  }
  return undefined;
}

export class DataplaneService {
  constructor(
    private readonly store: ResourceStore,
    private readonly facts: FactsStore,
    private readonly certProfile: CertProfile = 'kuma',
  ) {}

  requireMesh(mesh: string): void {
    if (!this.store.exists('Mesh', '', mesh)) throw meshNotFound();
  }

  /** 404 (mesh first, as Kuma) unless the dataplane exists. */
  requireExisting(mesh: string, name: string): void {
    this.requireMesh(mesh);
    if (!this.store.exists('Dataplane', mesh, name)) throw notFound(Titles.retrieve);
  }

  get(mesh: string, name: string): StoredResource<Dataplane> {
    this.requireMesh(mesh);
    const dp = this.store.get<Dataplane>('Dataplane', mesh, name);
    if (!dp) throw notFound(Titles.retrieve);
    return dp;
  }

  list(query: ListQuery) {
    if (query.mesh !== undefined) this.requireMesh(query.mesh);
    return this.store.list<Dataplane>('Dataplane', query);
  }

  put(mesh: string, name: string, body: unknown, principal: Principal, options: Pick<WriteOptions, 'dryRun'>): WriteOutcome {
    this.requireMesh(mesh);
    const shape = parseShape(DataplaneSchema, body);
    if (!shape.ok) throw badRequest(describeShapeError('Dataplane', shape.violations), shape.violations);
    const dp = shape.value;
    const violations = [...checkResourceRequest({ type: 'Dataplane', name, mesh }, dp), ...validateDataplane(dp)];
    if (violations.length === 0 && this.certProfile === 'spiffe') violations.push(...spiffeProfileViolations(mesh, dp));
    if (violations.length > 0) throw invalidResource(Titles.process, violations);
    if (principal.kind === 'dataplane') {
      const problem = tokenTagViolation(principal.tags, dp);
      if (problem) throw accessDenied(problem);
    }
    return this.store.transaction(() => {
      const exists = this.store.exists('Dataplane', mesh, name);
      if (options.dryRun) return exists ? 'updated' : 'created';
      return this.store.upsert('Dataplane', mesh, name, specOf(dp), dp.labels ?? {});
    });
  }

  /** Deleting a dataplane forgets its facts, so it no longer blocks a rotation step. */
  delete(mesh: string, name: string, options: Pick<WriteOptions, 'dryRun'>): void {
    this.requireMesh(mesh);
    this.store.transaction(() => {
      if (!this.store.exists('Dataplane', mesh, name)) throw notFound(Titles.delete);
      if (options.dryRun) return;
      this.store.delete('Dataplane', mesh, name);
      this.facts.deleteDataplane(mesh, name);
    });
  }
}
