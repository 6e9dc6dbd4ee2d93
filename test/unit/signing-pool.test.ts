import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { describe, test } from 'node:test';
import { SigningPool, SigningUnavailableError } from '../../src/ca/signing-pool.js';
import { loadCaSigner, type CaSigner } from '../../src/ca/x509.js';
import { ecdsaRootCa } from '../helpers/ecdsa-ca.js';

const misbehaving = () => new Worker(new URL('../fixtures/workers/misbehaving-signer.mjs', import.meta.url));
const material = { chainPem: '', keyPem: '' };
const request = (uri: string) => ({ uris: [uri], notBefore: 0, notAfter: 1 });
const sign = (pool: SigningPool, uri: string, timeoutMs?: number) =>
  pool.sign('ca', material, undefined as unknown as CaSigner, request(uri), timeoutMs);

/** `count` distinct P-256 roots, each with the id its signing jobs name (`<prefix>-<i>`). */
function distinctCas(count: number, prefix: string, now: number) {
  return Array.from({ length: count }, (_, i) => {
    const ca = ecdsaRootCa(`${prefix}-${i}`, 86_400_000, now);
    return { id: `${prefix}-${i}`, chainPem: ca.certPem, keyPem: ca.keyPem, publicKey: ca.publicKey };
  });
}

describe('the signing pool survives its workers', () => {
  test('a crashed worker fails only its own jobs, with SigningUnavailableError, and is replaced', async () => {
    const pool = new SigningPool(2, misbehaving);
    try {
      // Two workers; jobs go to the least busy one, so the crash job and the good job land on different workers.
      const crash = sign(pool, 'test:crash');
      const good = sign(pool, 'spiffe://default/web');
      await assert.rejects(
        crash,
        (err) => err instanceof SigningUnavailableError && /exited \(code 7\)/.test(err.message),
      );
      assert.equal((await good).ok, true);
      const after = await sign(pool, 'spiffe://default/after');
      assert.deepEqual(after, { ok: true, certificatePem: 'signed spiffe://default/after', serialHex: '01' });
    } finally {
      await pool.close();
    }
  });

  test('a hung job times out with SigningUnavailableError; the stuck worker is replaced', async () => {
    const pool = new SigningPool(1, misbehaving);
    try {
      const started = performance.now();
      await assert.rejects(
        sign(pool, 'test:hang', 200),
        (err) => err instanceof SigningUnavailableError && /within 200 ms/.test(err.message),
      );
      assert.ok(performance.now() - started < 5_000);
      assert.equal((await sign(pool, 'spiffe://default/next')).ok, true);
    } finally {
      await pool.close();
    }
  });

  test('closing the pool fails waiting jobs instead of leaving them hanging', async () => {
    const pool = new SigningPool(1, misbehaving);
    const hung = assert.rejects(sign(pool, 'test:hang', 60_000), SigningUnavailableError);
    await pool.close();
    await hung;
    await assert.rejects(sign(pool, 'spiffe://default/late'), SigningUnavailableError);
  });
});

describe('the signing pool with more CAs than a worker keeps', () => {
  test('1,000 distinct CAs signed round-robin twice on one worker: no error, each leaf by its own CA', async () => {
    const now = Date.now();
    const cas = distinctCas(1_000, 'ca', now);
    const pool = new SigningPool(1);
    const unusedInlineSigner = loadCaSigner(cas[0].chainPem, cas[0].keyPem); // a pool with workers never signs inline
    const leafRequest = { uris: ['spiffe://mesh/web'], notBefore: now - 1_000, notAfter: now + 3_600_000 };
    try {
      const failures: string[] = [];
      for (let round = 0; round < 2; round++) {
        for (const ca of cas) {
          const signed = await pool
            .sign(ca.id, { chainPem: ca.chainPem, keyPem: ca.keyPem }, unusedInlineSigner, leafRequest)
            .catch((err: Error) => err);
          if (signed instanceof Error || !signed.ok)
            failures.push(`${ca.id}: ${signed instanceof Error ? signed.message : signed.csrError}`);
          else if (!new X509Certificate(signed.certificatePem).verify(ca.publicKey))
            failures.push(`${ca.id}: signed by another CA`);
        }
      }
      assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failures`);
    } finally {
      await pool.close();
    }
  });
});

describe('jobs of one event-loop turn travel together', () => {
  test('many jobs for several CAs started at once on one worker: each answered, each leaf by its own CA, in few messages', async () => {
    const now = Date.now();
    const cas = distinctCas(3, 'turn', now);
    let messages = 0;
    const pool = new SigningPool(1, () => {
      const worker = new Worker(new URL('../../src/ca/signing-worker-entry.mjs', import.meta.url), {
        workerData: { module: new URL('../../src/ca/signing-worker.ts', import.meta.url).href },
      });
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (message: unknown) => {
        messages++;
        post(message);
      };
      return worker;
    });
    const leafRequest = { uris: ['spiffe://mesh/web'], notBefore: now - 1_000, notAfter: now + 3_600_000 };
    try {
      const jobs = Array.from({ length: 30 }, (_, i) => cas[i % cas.length]);
      const signed = await Promise.all(
        jobs.map((ca) => pool.sign(ca.id, ca, undefined as unknown as CaSigner, leafRequest)),
      );
      signed.forEach((result, i) => {
        assert.ok(result.ok, `job ${i}`);
        assert.ok(
          new X509Certificate(result.certificatePem).verify(jobs[i].publicKey),
          `job ${i} signed by its own CA`,
        );
      });
      assert.equal(messages, 1, 'thirty jobs of one turn, one message');
    } finally {
      await pool.close();
    }
  });
});
