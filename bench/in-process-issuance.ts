/**
 * In-process issuance rate on one core, for a public key that is already parsed (the X.509 building plus one
 * native signature), next to the raw signature rate `openssl speed` reports on this machine in the same run.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createRootCaCertificate, issueLeafCertificate, loadCaSigner } from '../src/ca/x509.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

function caOf(keyType: 'ec' | 'rsa') {
  const { privateKey, publicKey } =
    keyType === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = Date.now();
  const certPem = createRootCaCertificate({
    privateKey,
    publicKey,
    subject: { O: 'meshcp', OU: 'Mesh', CN: 'bench' },
    uriSan: 'spiffe://bench',
    notBefore: new Date(now - 10_000),
    notAfter: new Date(now + 365 * 24 * 3600_000),
  });
  return loadCaSigner(certPem, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

function issuanceRate(keyType: 'ec' | 'rsa'): number {
  const ca = caOf(keyType);
  const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  const uris = ['spiffe://default/web', 'kuma://kuma.io/service/web', 'kuma://version/v1'];
  const issue = () =>
    issueLeafCertificate({
      ca,
      subjectPublicKeyDer: leafKey,
      publicKeyIsRsa: false,
      uris,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 86_400_000),
    });
  for (let i = 0; i < 200; i++) issue(); // warm-up
  let count = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < deadline) {
    for (let i = 0; i < 50; i++) issue();
    count += 50;
  }
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** `openssl speed -seconds N ecdsap256 rsa2048`: sign/s of each. */
function opensslSignRates(): { ecdsaP256: number; rsa2048: number } {
  const out = execFileSync('openssl', ['speed', '-seconds', String(SECONDS), 'ecdsap256', 'rsa2048'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const rsa = /rsa\s+2048 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)/.exec(out);
  const ec = /256 bits ecdsa \(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)/.exec(out);
  if (!rsa || !ec) throw new Error(`cannot read openssl speed output:\n${out}`);
  return { ecdsaP256: Number(ec[1]), rsa2048: Number(rsa[1]) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** openssl and Node alternate three times and each side reports its median, so a noisy moment hits both alike. */
export function benchInProcessIssuance() {
  const openssl: { ecdsaP256: number; rsa2048: number }[] = [];
  const ecdsa: number[] = [];
  const rsa: number[] = [];
  for (let round = 0; round < 3; round++) {
    openssl.push(opensslSignRates());
    ecdsa.push(issuanceRate('ec'));
    rsa.push(issuanceRate('rsa'));
  }
  const opensslEc = median(openssl.map((o) => o.ecdsaP256));
  const opensslRsa = median(openssl.map((o) => o.rsa2048));
  return {
    ecdsaP256: {
      certsPerSecond: Math.round(median(ecdsa)),
      opensslSignPerSecond: opensslEc,
      ratio: Number((median(ecdsa) / opensslEc).toFixed(2)),
    },
    rsa2048: {
      certsPerSecond: Math.round(median(rsa)),
      opensslSignPerSecond: opensslRsa,
      ratio: Number((median(rsa) / opensslRsa).toFixed(2)),
    },
  };
}
