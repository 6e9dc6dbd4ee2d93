import { forbidden, invalidRequest, invalidResource, Titles } from '../domain/errors.js';
import { DataplaneSchema, validateDataplane, type Dataplane } from '../resources/dataplane.js';
import { dataplaneSizeViolations } from '../resources/dataplane-limits.js';
import { dataplaneProfile } from '../resources/dataplane-profile.js';
import { checkResourceRequest, specOf } from '../resources/request-checks.js';
import { workloadLabelProblem } from '../resources/labels.js';
import { describeShapeError, parseShape } from '../resources/violations.js';
import type { ResourceDescriptor, ResourceHandle } from '../services/resource-manager.js';
import { spiffeProfileViolations, type CertProfile } from './cert-profile.js';
import { tokenTagViolation } from './token-tags.js';

/** Dataplanes as the certificate and trust-bundle services read them. */
export type DataplaneService = ResourceHandle<Dataplane>;

/**
 * The Dataplane resource. A dataplane may register itself, but only as what its token's tags allow; deleting a
 * dataplane forgets its facts, so it no longer blocks a rotation step.
 */
export function dataplaneDescriptor(certProfile: CertProfile = 'kuma'): ResourceDescriptor {
  return {
    type: 'Dataplane',
    scope: 'mesh',
    computedLabels: true,
    parse(at, body, request) {
      const shape = parseShape(DataplaneSchema, body);
      if (!shape.ok) throw invalidRequest(describeShapeError('Dataplane', shape.violations), shape.violations);
      const dp = shape.value;
      // As Kuma: the body is validated first; a URL/body mismatch is reported only for an otherwise valid body.
      const specViolations = [...validateDataplane(dp), ...dataplaneSizeViolations(at.mesh, dp)];
      if (specViolations.length > 0) throw invalidResource(Titles.process, specViolations);
      const violations = checkResourceRequest({ type: 'Dataplane', name: at.name, mesh: at.mesh }, dp);
      if (violations.length === 0 && certProfile === 'spiffe') violations.push(...spiffeProfileViolations(at.mesh, dp));
      if (violations.length > 0) throw invalidResource(Titles.process, violations);
      const workloadProblem = workloadLabelProblem(dp.labels);
      if (workloadProblem) throw invalidRequest(workloadProblem);
      if (request.principal.kind === 'dataplane') {
        const problem = tokenTagViolation(request.principal.tags, dp);
        if (problem) throw forbidden(problem);
      }
      return { spec: specOf(dp), labels: dp.labels ?? {} };
    },
    // The insights' counts move with the write, in its transaction (not on dry runs).
    checkWrite: async ({ at, parsed }) => (tx) => tx.fleet.dataplaneWritten(at.mesh, at.name, dataplaneProfile(parsed.spec as Dataplane)),
    afterDelete: async (tx, at) => {
      await tx.facts.deleteDataplane(at.mesh, at.name);
      await tx.fleet.dataplaneDeleted(at.mesh, at.name);
    },
  };
}
