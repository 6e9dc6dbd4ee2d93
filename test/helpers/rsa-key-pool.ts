// Real RSA keys generated ahead of time (scripts/make-test-rsa-keys.mjs), handed to the services under test instead
// of fresh ones: a fresh 2048-bit key costs ~100-200 ms of CPU, a 4096-bit one seconds, and tests create many meshes
// (a token signing key each, plus a root per builtin CA). The keys go out in turn, round the pool: any run of draws
// no longer than the pool hands out distinct keys, so the meshes of one control plane do not share a key. A size
// the pool does not hold is generated as in production.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { generateRsaKeyPair, type RsaKeyPair, type RsaKeySource } from '../../src/ca/keys.js';

interface Pool {
  pems: string[];
  next: number;
}

const pools = new Map<number, Pool>();

function poolOf(bits: number): Pool {
  let pool = pools.get(bits);
  if (!pool) {
    const file = new URL(`../fixtures/rsa-keys/rsa-${bits}.pem`, import.meta.url);
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    pool = { pems: text.match(/-----BEGIN PRIVATE KEY-----[^-]+-----END PRIVATE KEY-----/g) ?? [], next: 0 };
    pools.set(bits, pool);
  }
  return pool;
}

/** The next pre-generated key of that size as PKCS#8 PEM (the pool's order, round and round), if the pool has that size. */
export function nextPooledRsaKeyPem(bits: number): string | undefined {
  const pool = poolOf(bits);
  return pool.pems.length === 0 ? undefined : pool.pems[pool.next++ % pool.pems.length];
}

/** The next pre-generated key pair of that size, or a fresh one if the pool has none of that size. */
export const pooledRsaKeys: RsaKeySource = async (bits) => {
  const pem = nextPooledRsaKeyPem(bits);
  if (pem === undefined) return generateRsaKeyPair(bits);
  const privateKey = createPrivateKey(pem);
  const pair: RsaKeyPair = { privateKey, publicKey: createPublicKey(privateKey) };
  return pair;
};

/**
 * Pool keys that take `ms` to arrive, as real generation does: for tests of requests that race while their keys
 * are being made (both must be preparing when the first one commits).
 */
export function slowPooledRsaKeys(ms: number): RsaKeySource {
  return async (bits) => {
    const pair = await pooledRsaKeys(bits);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return pair;
  };
}
