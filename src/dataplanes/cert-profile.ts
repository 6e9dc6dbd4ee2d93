/**
 * Certificate profiles (MESHCP_CERT_PROFILE). `kuma` (default) issues Kuma's URI SANs: one `spiffe://<mesh>/<service>`
 * per service plus a `kuma://<tag>/<value>` per tag. Strict X.509-SVID verifiers (go-spiffe, java-spiffe, the Rust
 * crate) refuse such a leaf: an SVID carries exactly one URI SAN. `spiffe` issues exactly that one URI,
 * `spiffe://<mesh>/<service>`, and so needs a mesh name that is a valid trust domain and one service whose name is a
 * valid SPIFFE path segment.
 */
import type { CertProfile } from '../config.js';
import { cannotIssue } from '../domain/errors.js';

export type { CertProfile };
import { dataplaneServices, dataplaneSpiffeUris, SERVICE_TAG, type Dataplane } from '../resources/dataplane.js';
import { mapKey, type Violation } from '../resources/violations.js';

/** SPIFFE ID spec: trust domain characters are lower-case letters, digits, dots, dashes and underscores. */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
/** SPIFFE ID spec: a path segment is letters, digits, dots, dashes and underscores, and never `.` or `..`. */
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

function segmentProblem(service: string): string | undefined {
  if (!PATH_SEGMENT.test(service)) return 'may only contain letters, digits, ".", "-" and "_"';
  if (service === '.' || service === '..') return 'cannot be "." or ".."';
  return undefined;
}

/** Why a dataplane cannot get a certificate under the spiffe profile; empty when it can. */
export function spiffeProfileViolations(mesh: string, dp: Dataplane): Violation[] {
  const out: Violation[] = [];
  const prefix = 'MESHCP_CERT_PROFILE=spiffe issues one SPIFFE ID per dataplane:';
  if (!TRUST_DOMAIN.test(mesh)) {
    out.push({
      field: 'mesh',
      message: `${prefix} the mesh name "${mesh}" is its trust domain and may only contain lower-case letters, digits, ".", "-" and "_"`,
    });
  }
  const services = dataplaneServices(dp);
  if (services.length === 0)
    out.push({ field: 'networking', message: `${prefix} the dataplane has no "${SERVICE_TAG}" tag` });
  if (services.length > 1) {
    out.push({
      field: 'networking',
      message: `${prefix} the dataplane has ${services.length} services (${services.join(', ')}), it may have only one`,
    });
  }
  const tagged: [string, string | undefined][] = [
    ...(dp.networking?.inbound ?? []).map((inbound, i): [string, string | undefined] => [
      `networking.inbound[${i}].tags`,
      inbound.tags?.[SERVICE_TAG],
    ]),
    ['networking.gateway.tags', dp.networking?.gateway?.tags?.[SERVICE_TAG]],
  ];
  for (const [path, service] of tagged) {
    const problem = service === undefined ? undefined : segmentProblem(service);
    if (problem)
      out.push({
        field: `${path}${mapKey(SERVICE_TAG)}`,
        message: `${prefix} the service "${service}" is its path segment and ${problem}`,
      });
  }
  return out;
}

/** The URI SANs under `profile`, or undefined when the stored dataplane cannot have a certificate under it. */
export function expectedUris(profile: CertProfile, mesh: string, dp: Dataplane): string[] | undefined {
  if (profile === 'kuma') return dataplaneSpiffeUris(mesh, dp);
  return spiffeProfileViolations(mesh, dp).length === 0 ? [`spiffe://${mesh}/${dataplaneServices(dp)[0]}`] : undefined;
}

/** The URI SANs of the dataplane's certificate under `profile`; 409 when the stored dataplane cannot have one. */
export function certificateUris(profile: CertProfile, mesh: string, dp: Dataplane): string[] {
  if (dataplaneServices(dp).length === 0) {
    // Kuma 2.14 accepts such a Dataplane (outbound-only, transparent proxy) and would sign a certificate with no
    // SPIFFE ID, which no peer can authorize. meshcp refuses instead; the trust bundle is still served.
    throw cannotIssue(
      `the Dataplane has no "${SERVICE_TAG}" tag, so its certificate would carry no identity: give an inbound (or the gateway) a "${SERVICE_TAG}" tag to get one; the trust bundle needs none`,
    );
  }
  if (profile === 'kuma') return dataplaneSpiffeUris(mesh, dp);
  const violations = spiffeProfileViolations(mesh, dp);
  if (violations.length > 0) {
    // A dataplane registered before the profile changed: it must be re-registered with a valid service name.
    throw cannotIssue(violations.map((v) => v.message).join('; '));
  }
  return [`spiffe://${mesh}/${dataplaneServices(dp)[0]}`];
}
