import type { MeshIdentitySpec } from '../resources/mesh-identity.js';

/** The part of a stored MeshIdentity selection reads. */
interface SelectableIdentity {
  name: string;
  spec: Pick<MeshIdentitySpec, 'selector'>;
}

/**
 * Whether an identity selects a dataplane, by the Dataplane's labels (never its inbound tags), as Kuma 2.14: no
 * `selector` or no `selector.dataplane` selects nothing; `dataplane: {}` and `matchLabels: {}` select every dataplane;
 * otherwise every `matchLabels` pair must be among the labels.
 */
export function selects(identity: SelectableIdentity, labels: Readonly<Record<string, string>>): boolean {
  const dataplane = identity.spec.selector?.dataplane;
  if (!dataplane) return false;
  return Object.entries(dataplane.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
}

/** How specific a selecting identity is: the number of `matchLabels` pairs. */
const specificity = (identity: SelectableIdentity) =>
  Object.keys(identity.spec.selector?.dataplane?.matchLabels ?? {}).length;

/**
 * The identity that wins a dataplane (Kuma's `BestMatched`): among those selecting it, the most `matchLabels` pairs,
 * ties to the lexicographically smallest name. Readiness plays no part: a non-Ready winner means no identity.
 */
export function bestMatch<T extends SelectableIdentity>(
  identities: readonly T[],
  labels: Readonly<Record<string, string>>,
): T | undefined {
  let best: T | undefined;
  for (const identity of identities) {
    if (!selects(identity, labels)) continue;
    if (
      !best ||
      specificity(identity) > specificity(best) ||
      (specificity(identity) === specificity(best) && identity.name < best.name)
    ) {
      best = identity;
    }
  }
  return best;
}
