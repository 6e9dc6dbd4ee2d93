import { forbidden, invalidRequest, invalidResource, Titles } from '../domain/errors.js';
import type { Dataplane } from '../resources/dataplane.js';
import { kindOf } from '../resources/kinds.js';
import { specOf } from '../resources/request-checks.js';
import { workloadLabelProblem } from '../resources/labels.js';
import type { ParsedResource, ResourceDescriptor, ResourceHandle } from '../resource-manager/resource-manager.js';
import { spiffeProfileViolations, type CertProfile } from './cert-profile.js';
import { tokenTagViolation } from './token-tags.js';

/** Dataplanes as the certificate and trust-bundle services read them. */
export type DataplaneService = ResourceHandle<Dataplane>;

/**
 * The Dataplane's write rules beyond its kind (schema, structure, size): a dataplane may register itself, but only
 * as what its token's tags allow; deleting a dataplane forgets its facts, so it no longer blocks a rotation step.
 */
export function dataplaneDescriptor(
  certProfile: CertProfile = 'kuma',
): ResourceDescriptor<ParsedResource, undefined, Dataplane> {
  return {
    kind: kindOf('Dataplane'),
    admit(dp, at, request) {
      if (certProfile === 'spiffe') {
        const violations = spiffeProfileViolations(at.mesh, dp);
        if (violations.length > 0) throw invalidResource(Titles.process, violations);
      }
      const workloadProblem = workloadLabelProblem(dp.labels);
      if (workloadProblem) throw invalidRequest(workloadProblem);
      if (request.principal.kind === 'dataplane') {
        const problem = tokenTagViolation(request.principal.tags, dp);
        if (problem) throw forbidden(problem);
      }
      return { spec: specOf(dp), labels: dp.labels ?? {} };
    },
    afterDelete: (tx, at) => tx.facts.deleteDataplane(at.mesh, at.name),
  };
}
