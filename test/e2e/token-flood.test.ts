// A stranger floods the real process with tokens that are garbage, unsigned, or signed by someone else: memory stays
// flat, because nothing is kept (or even decoded) for a token that does not verify.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';

/** Enough that keeping anything of a ~3 KB token per request (30,000 x 3 KB = 90 MB) breaks the 50 MB bound. */
const REQUESTS = 30_000;
const CONCURRENCY = 64;
const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

/** A token shaped like a dataplane token, with a random 3 KB `Mesh` claim: each one a new string to (not) remember. */
function hostileToken(i: number, foreignKey: ReturnType<typeof generateKeyPairSync>['privateKey']): string {
  const claims = b64url(
    JSON.stringify({ Name: `dp-${i}`, Mesh: randomBytes(1536).toString('hex'), Tags: {}, jti: `${i}` }),
  );
  switch (i % 3) {
    case 0: // unsigned
      return `${b64url(JSON.stringify({ alg: 'none' }))}.${claims}.`;
    case 1: // RS256 header, signature of random bytes
      return `${b64url(JSON.stringify({ alg: 'RS256', kid: '1' }))}.${claims}.${b64url(randomBytes(256))}`;
    default: {
      // really signed, by a key that is not the mesh's
      const signingInput = `${b64url(JSON.stringify({ alg: 'RS256', kid: '1' }))}.${claims}`;
      return `${signingInput}.${b64url(sign('sha256', Buffer.from(signingInput), foreignKey))}`;
    }
  }
}

const rssBytes = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

describe('a flood of invalid dataplane tokens', () => {
  let cp: CpProcess;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  before(async () => {
    cp = await startCpProcess();
  });
  after(async () => {
    agent.destroy();
    await cp.stop();
  });

  const paths = [
    '/healthz',
    '/meshes/default/dataplanes/web-1/trust-bundle',
    '/meshes/other/dataplanes/dp/certificate',
  ];
  const call = (path: string, token: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        new URL(path, cp.baseUrl),
        { agent, method: 'GET', headers: { authorization: `Bearer ${token}` } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });

  async function flood(count: number): Promise<Map<number, number>> {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signed = Array.from({ length: 100 }, (_, i) => hostileToken(3 * i + 2, privateKey)); // RSA signing is slow
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const token = i % 3 === 2 ? signed[i % signed.length] : hostileToken(i, privateKey);
        const status = await call(paths[i % paths.length], token);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return statuses;
  }

  test(`${REQUESTS} requests leave the process within 50 MB of its idle RSS, and each is refused or served`, async () => {
    await flood(5_000); // warm up: JIT, sockets, allocator
    const idle = rssBytes(cp.child.pid!);
    const statuses = await flood(REQUESTS);
    const grown = rssBytes(cp.child.pid!) - idle;
    console.log(
      `RSS idle ${(idle / 2 ** 20).toFixed(0)} MB, after ${REQUESTS} requests +${(grown / 2 ** 20).toFixed(1)} MB; statuses ${JSON.stringify([...statuses])}`,
    );
    assert.ok(grown < 50 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MB`);
    assert.deepEqual([...statuses.keys()].sort(), [200, 401], 'public routes serve, the others refuse the token');
  });
});
