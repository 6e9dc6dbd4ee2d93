import type { Principal } from '../api/auth.js';
import { accessDenied, badRequest, invalidResource, meshNotFound, notFound, Titles } from '../errors.js';
import { DataplaneSchema, validateDataplane, type Dataplane } from '../resources/dataplane.js';
import { dataplaneSizeViolations } from '../resources/dataplane-limits.js';
import { checkResourceRequest, specOf } from '../resources/request-checks.js';
import { labelsForWrite, UPDATE_REFUSED_TITLE } from '../resources/computed-labels.js';
import { workloadLabelProblem } from '../resources/labels.js';
import { describeShapeError, parseShape } from '../resources/violations.js';
import type { FactsStore } from '../store/facts-store.js';
import { spiffeProfileViolations, type CertProfile } from './cert-profile.js';
import type { ListQuery, ResourceStore, StoredResource } from '../store/resource-store.js';
import type { WriteOptions, WriteOutcome } from '../mesh/mesh-service.js';
import { tokenTagViolation } from './token-tags.js';

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
    // As Kuma: the body is validated first; a URL/body mismatch is reported only for an otherwise valid body.
    const specViolations = [...validateDataplane(dp), ...dataplaneSizeViolations(mesh, dp)];
    if (specViolations.length > 0) throw invalidResource(Titles.process, specViolations);
    const violations = checkResourceRequest({ type: 'Dataplane', name, mesh }, dp);
    if (violations.length === 0 && this.certProfile === 'spiffe') violations.push(...spiffeProfileViolations(mesh, dp));
    if (violations.length > 0) throw invalidResource(Titles.process, violations);
    const workloadProblem = workloadLabelProblem(dp.labels);
    if (workloadProblem) throw badRequest(workloadProblem);
    if (principal.kind === 'dataplane') {
      const problem = tokenTagViolation(principal.tags, dp);
      if (problem) throw accessDenied(problem);
    }
    return this.store.transaction(() => {
      const stored = this.store.get<Dataplane>('Dataplane', mesh, name);
      const spec = specOf(dp);
      const write = labelsForWrite('Dataplane', mesh, spec, dp.labels, stored);
      if (write.violations.length > 0) throw invalidResource(UPDATE_REFUSED_TITLE, write.violations);
      if (options.dryRun) return stored ? 'updated' : 'created';
      return this.store.upsert('Dataplane', mesh, name, spec, write.labels);
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
