/** The one PEM armour of the code base (DER inside), used by the CA, the CSR checks' callers and the agent. */

export function pemEncode(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END ([A-Z0-9 ]+)-----/g;

/** The DER of every PEM block (of `label`, when given) in `pem`, in order. */
export function pemDecodeAll(pem: string, label?: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of pem.matchAll(PEM_BLOCK)) {
    if (m[1] !== m[3]) throw new Error(`PEM block BEGIN ${m[1]} ends with END ${m[3]}`);
    if (label !== undefined && m[1] !== label) continue;
    const b64 = m[2].replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
      throw new Error(`PEM block ${m[1]} is not valid base64`);
    }
    out.push(Buffer.from(b64, 'base64'));
  }
  return out;
}
