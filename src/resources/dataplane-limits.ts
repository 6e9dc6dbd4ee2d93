import { dataplaneSpiffeUris, type Dataplane } from './dataplane.js';
import type { Violation } from './violations.js';

/*
 * What one Dataplane may put into its certificate. Every inbound's and the gateway's tags become URI SANs
 * (`spiffe://<mesh>/<service>` per service, `kuma://<tag>/<value>` per tag value), so without a cap one dataplane
 * token could make the CA sign an ~1 MB certificate (9,000 inbounds gave 27,001 SANs) on every renewal, and
 * every peer would parse it on every handshake. The limits are far above a real sidecar (a handful of inbounds and
 * tags) and are documented in the README and SECURITY.md.
 */
export const MAX_DATAPLANE_INBOUNDS = 64;
export const MAX_DATAPLANE_URI_SANS = 128;
/** The URI SANs' total length in bytes (UTF-8), what the certificate grows by. */
export const MAX_DATAPLANE_URI_SAN_BYTES = 16 * 1024;

/** Violations of the URI SAN limits for the URIs a certificate would carry (empty when within them). */
export function uriSanViolations(uris: readonly string[]): Violation[] {
  const out: Violation[] = [];
  if (uris.length > MAX_DATAPLANE_URI_SANS) {
    out.push({
      field: 'networking',
      message: `its services and tags give ${uris.length} URI SANs in the certificate; at most ${MAX_DATAPLANE_URI_SANS} are allowed`,
    });
  }
  const bytes = uris.reduce((sum, uri) => sum + Buffer.byteLength(uri), 0);
  if (bytes > MAX_DATAPLANE_URI_SAN_BYTES) {
    out.push({
      field: 'networking',
      message: `its services and tags give ${bytes} bytes of URI SANs in the certificate; at most ${MAX_DATAPLANE_URI_SAN_BYTES} are allowed`,
    });
  }
  return out;
}

/** The size caps of a Dataplane about to be stored in `mesh`. */
export function dataplaneSizeViolations(mesh: string, dp: Dataplane): Violation[] {
  const inbounds = dp.networking?.inbound?.length ?? 0;
  if (inbounds > MAX_DATAPLANE_INBOUNDS) {
    // Checked first and alone: the SANs of thousands of inbounds need not be computed to refuse them.
    return [
      {
        field: 'networking.inbound',
        message: `has ${inbounds} inbounds; at most ${MAX_DATAPLANE_INBOUNDS} are allowed`,
      },
    ];
  }
  return uriSanViolations(dataplaneSpiffeUris(mesh, dp));
}
