// An X.509-SVID verifier written from the SPIFFE specs (X509-SVID.md §2-§5, SPIFFE-ID.md §2), independent of
// meshcp's own DER code: what go-spiffe's x509svid, java-spiffe and the Rust crate check on a leaf SVID.
import { X509Certificate } from 'node:crypto';

interface Tlv {
  tag: number;
  value: Buffer;
  end: number;
}

function readTlv(buf: Buffer, at: number): Tlv {
  const tag = buf[at];
  let length = buf[at + 1];
  let offset = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + buf[offset + i];
    offset += bytes;
  }
  return { tag, value: buf.subarray(offset, offset + length), end: offset + length };
}

function children(value: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < value.length; ) {
    const tlv = readTlv(value, at);
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

function oid(value: Buffer): string {
  const parts = [Math.floor(value[0] / 40), value[0] % 40];
  let n = 0;
  for (const byte of value.subarray(1)) {
    n = n * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  return parts.join('.');
}

interface Extension {
  critical: boolean;
  value: Buffer;
}

/** The extensions of a certificate, by OID. */
function extensionsOf(der: Buffer): Map<string, Extension> {
  const tbs = children(readTlv(der, 0).value)[0];
  const explicit = children(tbs.value).find((t) => t.tag === 0xa3);
  const out = new Map<string, Extension>();
  if (!explicit) return out;
  for (const ext of children(children(explicit.value)[0].value)) {
    const [id, ...rest] = children(ext.value);
    const critical = rest.length === 2 && rest[0].tag === 0x01 && rest[0].value[0] !== 0;
    out.set(oid(id.value), { critical, value: rest[rest.length - 1].value });
  }
  return out;
}

const SAN = '2.5.29.17';
const KEY_USAGE = '2.5.29.15';
const BASIC_CONSTRAINTS = '2.5.29.19';

/** SPIFFE-ID.md: `spiffe://<trust domain>/<path>`, with the character sets and segment rules of §2.1 and §2.2. */
export function spiffeIdProblem(id: string): string | undefined {
  if (Buffer.byteLength(id) > 2048) return 'longer than 2048 bytes';
  const m = /^spiffe:\/\/([^/]*)(\/.*)?$/.exec(id);
  if (!m) return 'scheme is not spiffe:// (lower case)';
  const [, trustDomain, path = ''] = m;
  if (trustDomain === '') return 'empty trust domain';
  if (!/^[a-z0-9._-]+$/.test(trustDomain))
    return `trust domain "${trustDomain}" has characters outside [a-z0-9._-] (no port, user info or upper case)`;
  if (path === '') return 'an SVID identifies a workload: the path must not be empty';
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') return 'empty path segment or trailing slash';
    if (segment === '.' || segment === '..') return 'dot segment in path';
    if (!/^[A-Za-z0-9._-]+$/.test(segment))
      return `path segment "${segment}" has characters outside [A-Za-z0-9._-] (no query or fragment)`;
  }
  return undefined;
}

/** Verifies a leaf X.509-SVID (chain PEM, leaf first) against a bundle of roots; returns its SPIFFE ID or throws. */
export function verifyX509Svid(chainPem: string, bundlePem: string, now = new Date()): string {
  const pems = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  const chain = pems(chainPem).map((p) => new X509Certificate(p));
  const roots = pems(bundlePem).map((p) => new X509Certificate(p));
  if (chain.length === 0) throw new Error('no certificate');
  const leaf = chain[0];
  const ext = extensionsOf(leaf.raw);

  // §2: exactly one URI SAN, a valid SPIFFE ID.
  const san = ext.get(SAN);
  const uris = san
    ? children(children(san.value)[0].value)
        .filter((g) => g.tag === 0x86)
        .map((g) => g.value.toString('latin1'))
    : [];
  if (uris.length !== 1)
    throw new Error(`an X.509-SVID has exactly one URI SAN, this one has ${uris.length}: ${uris.join(', ')}`);
  const problem = spiffeIdProblem(uris[0]);
  if (problem) throw new Error(`URI SAN ${uris[0]} is not a SPIFFE ID: ${problem}`);

  // §4.1: a leaf is not a CA. §4.3: key usage is critical, has digitalSignature, and no keyCertSign or cRLSign.
  const bc = ext.get(BASIC_CONSTRAINTS);
  const bcFields = bc ? children(children(bc.value)[0].value) : [];
  if (bcFields[0]?.tag === 0x01 && bcFields[0].value[0] !== 0) throw new Error('a leaf SVID must have cA=false');
  const ku = ext.get(KEY_USAGE);
  if (!ku) throw new Error('a leaf SVID must have the key usage extension');
  if (!ku.critical) throw new Error('the key usage extension must be critical');
  const bits = readTlv(ku.value, 0).value;
  const first = bits[1] ?? 0;
  if (!(first & 0x80)) throw new Error('a leaf SVID must have digitalSignature');
  if (first & 0x04) throw new Error('a leaf SVID must not have keyCertSign');
  if (first & 0x02) throw new Error('a leaf SVID must not have cRLSign');

  // §5: the chain validates to a root of the trust bundle, every certificate within its validity.
  const inTime = (c: X509Certificate) => new Date(c.validFrom) <= now && now <= new Date(c.validTo);
  let current = leaf;
  for (let depth = 0; depth < 10; depth++) {
    if (!inTime(current)) throw new Error('a certificate of the chain is outside its validity');
    const root = roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (root) {
      if (!root.ca || !inTime(root)) throw new Error('the bundle root is not a valid CA');
      return uris[0];
    }
    const next = chain.find((c) => c !== current && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next || !next.ca) throw new Error('the chain does not lead to a root of the bundle');
    current = next;
  }
  throw new Error('chain too long');
}
