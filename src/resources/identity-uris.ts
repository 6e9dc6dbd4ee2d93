import type { Violation } from './violations.js';
import { mapKey } from './violations.js';

/*
 * Every inbound and gateway tag becomes a `kuma://<key>/<value>` URI SAN of the dataplane's certificate, and every
 * `kuma.io/service` value a `spiffe://<mesh>/<value>` one. Kuma parses these URIs before it signs and refuses to
 * issue when one does not parse; Go's crypto/x509 also refuses, when reading a certificate, a URI whose host is not
 * a domain of non-empty labels. So a Dataplane whose tags cannot become valid URIs is refused on PUT, with the
 * parser's reason, rather than stored and left without a usable certificate.
 */

const SERVICE_TAG = 'kuma.io/service';
/** SPIFFE path segments: letters, digits, dots, dashes and underscores, and not `.` or `..`. */
const SPIFFE_SEGMENT = /^[a-zA-Z0-9._-]+$/;

/** Why `kuma://<key>/<value>` would not parse as Go's `url.Parse` + crypto/x509 read it, or undefined. */
export function kumaUriProblem(key: string, value: string): string | undefined {
  const uri = `kuma://${key}/${value}`;
  const slash = key.indexOf('/');
  const host = slash === -1 ? key : key.slice(0, slash);
  const colon = host.lastIndexOf(':');
  if (colon !== -1) {
    const port = host.slice(colon);
    if (!/^:\d*$/.test(port))
      return `invalid Kuma URI: parse ${JSON.stringify(uri)}: invalid port ${JSON.stringify(port)} after host`;
  }
  if (host !== '' && host.split('.').some((label) => label === '')) {
    return `invalid Kuma URI: ${JSON.stringify(uri)}: invalid domain (empty label in ${JSON.stringify(host)})`;
  }
  return undefined;
}

/** Why `spiffe://<mesh>/<service>` would not be a valid SPIFFE ID, or undefined. */
export function spiffeServiceProblem(service: string): string | undefined {
  if (service === '.' || service === '..') return 'path cannot contain dot segments';
  if (!SPIFFE_SEGMENT.test(service))
    return 'path segment characters are limited to letters, numbers, dots, dashes, and underscores';
  return undefined;
}

function checkTags(path: string, tags: Readonly<Record<string, string>> | undefined, out: Violation[]): void {
  for (const key of Object.keys(tags ?? {}).sort()) {
    const value = tags![key]!;
    const field = path + mapKey(key);
    const problem = kumaUriProblem(key, value);
    if (problem) out.push({ field, message: problem });
    if (key === SERVICE_TAG) {
      const spiffe = spiffeServiceProblem(value);
      if (spiffe) out.push({ field, message: `invalid SPIFFE ID for service ${JSON.stringify(value)}: ${spiffe}` });
    }
  }
}

interface TaggedDataplane {
  networking?:
    | {
        inbound?: { tags?: Record<string, string> | undefined }[] | undefined;
        gateway?: { tags?: Record<string, string> | undefined } | undefined;
      }
    | undefined;
}

/** URI checks on every tag that goes into the certificate (inbound and gateway tags). */
export function validateIdentityUris(dp: TaggedDataplane): Violation[] {
  const out: Violation[] = [];
  (dp.networking?.inbound ?? []).forEach((inbound, i) => checkTags(`networking.inbound[${i}].tags`, inbound.tags, out));
  checkTags('networking.gateway.tags', dp.networking?.gateway?.tags, out);
  return out;
}
