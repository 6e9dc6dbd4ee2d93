import { ZONE_LABEL } from '../resources/labels.js';
import { renderTemplate, type TemplateFunction } from '../resources/go-template.js';
import type { MeshIdentitySpec } from '../resources/mesh-identity.js';

/** Kuma's Universal defaults. */
const DEFAULT_TRUST_DOMAIN = '{{ .Mesh }}.{{ .Zone }}.mesh.local';
const DEFAULT_PATH = '/workload/{{ .Workload }}';
const WORKLOAD_LABEL = 'kuma.io/workload';

type Rendered = { ok: true; value: string } | { ok: false; reason: string };

const labelFunction =
  (labels: Readonly<Record<string, string>>): TemplateFunction =>
  (key: string) =>
    Object.hasOwn(labels, key) ? { ok: true, value: labels[key]! } : { ok: false, error: `label ${key} not found` };

/**
 * An identity's trust domain: its `spiffeID.trustDomain` template (default `{{ .Mesh }}.{{ .Zone }}.mesh.local`) over
 * the identity's mesh and zone (its `kuma.io/zone` label, else the CP's), `label` reading the identity's labels.
 */
export function trustDomainOf(
  identity: { mesh: string; labels: Readonly<Record<string, string>>; spec: MeshIdentitySpec },
  cpZone: string,
): Rendered {
  const template = identity.spec.spiffeID?.trustDomain || DEFAULT_TRUST_DOMAIN;
  const zone = identity.labels[ZONE_LABEL] ?? cpZone;
  const rendered = renderTemplate(
    template,
    { Mesh: identity.mesh, Zone: zone },
    { label: labelFunction(identity.labels) },
  );
  if (!rendered.ok) return { ok: false, reason: `the trust domain template cannot be rendered: ${rendered.error}` };
  const problem = trustDomainProblem(rendered.value);
  return problem
    ? { ok: false, reason: `the trust domain ${JSON.stringify(rendered.value)} is not valid: ${problem}` }
    : { ok: true, value: rendered.value };
}

/** Whether the path template reads the workload label (then a dataplane without it cannot be given an identity). */
function pathUsesWorkload(spec: MeshIdentitySpec): boolean {
  const template = spec.spiffeID?.path || DEFAULT_PATH;
  return /\.Workload\b/.test(template) || /label\s+"kuma\.io\/workload"/.test(template);
}

/**
 * The SPIFFE ID an identity gives a dataplane: `spiffe://<trust domain>` + its `spiffeID.path` template (default
 * `/workload/{{ .Workload }}`) over the Dataplane's labels. A dataplane the path needs `kuma.io/workload` of and that
 * lacks it is refused with Kuma's reason; any ID that is not a valid SPIFFE ID is refused with what is wrong.
 */
export function spiffeIdOf(
  identity: { name: string; spec: MeshIdentitySpec },
  trustDomain: string,
  dpLabels: Readonly<Record<string, string>>,
): Rendered {
  const template = identity.spec.spiffeID?.path || DEFAULT_PATH;
  if (pathUsesWorkload(identity.spec) && !dpLabels[WORKLOAD_LABEL]) {
    return {
      ok: false,
      reason: `missing required label '${WORKLOAD_LABEL}' - dataplane is selected by MeshIdentity '${identity.name}' with path template '${template}'`,
    };
  }
  const data = {
    TrustDomain: trustDomain,
    Namespace: dpLabels['k8s.kuma.io/namespace'] ?? '',
    ServiceAccount: dpLabels['k8s.kuma.io/service-account'] ?? '',
    Workload: dpLabels[WORKLOAD_LABEL] ?? '',
  };
  const rendered = renderTemplate(template, data, { label: labelFunction(dpLabels) });
  if (!rendered.ok)
    return {
      ok: false,
      reason: `the SPIFFE ID path template of MeshIdentity '${identity.name}' cannot be rendered: ${rendered.error}`,
    };
  const id = `spiffe://${trustDomain}${rendered.value}`;
  const problem = pathProblem(rendered.value);
  return problem
    ? { ok: false, reason: `${JSON.stringify(id)} is not a valid SPIFFE ID: ${problem}` }
    : { ok: true, value: id };
}

/** go-spiffe's trust domain rules: lowercase letters, digits, `.`, `-`, `_`; not empty. */
function trustDomainProblem(domain: string): string | undefined {
  if (domain === '') return 'trust domain is missing';
  if (domain.length > 255) return 'trust domain is too long';
  if (!/^[a-z0-9._-]+$/.test(domain))
    return 'trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores';
  return undefined;
}

/** go-spiffe's path rules: segments after `/`, not empty, not `.` or `..`, of letters, digits, `.`, `-`, `_`. */
function pathProblem(path: string): string | undefined {
  if (path === '') return undefined;
  if (!path.startsWith('/')) return 'path must have a leading slash';
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') return 'path cannot contain empty segments';
    if (segment === '.' || segment === '..') return 'path cannot contain dot segments';
    if (!/^[A-Za-z0-9._-]+$/.test(segment))
      return 'path segment characters are limited to letters, numbers, dots, dashes, and underscores';
  }
  return undefined;
}
