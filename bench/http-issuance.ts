/**
 * HTTP issuance from CSRs: meshcp `POST .../certificate` against `cfssl serve` (Go), the same ECDSA P-256 CA, the
 * same CSR, the same wrk load (connections, threads, duration), alternating runs, warm-up excluded.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, makeCsr, makeEcdsaCa, meshWithProvidedCa, startMeshcp, tempDir } from './lib.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

function wrk(url: string, body: string, dir: string, seconds: number): { rps: number; errors: number } {
  const script = join(dir, `post-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(script, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`);
  const out = execFileSync('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '-s', script, url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = (non2xx ? Number(non2xx[1]) : 0) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, errors };
}

async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not come up`);
}

export async function benchHttpIssuance() {
  const dir = tempDir('meshcp-bench-http-');
  const ca = makeEcdsaCa(dir);
  const csr = makeCsr(dir);

  const meshcp = await startMeshcp(join(dir, 'data'), process.env.MESHCP_SIGNING_WORKERS ? { MESHCP_SIGNING_WORKERS: process.env.MESHCP_SIGNING_WORKERS } : {});
  await api(meshcp.baseUrl, 'PUT', '/meshes/default', meshWithProvidedCa(readFileSync(ca.certFile, 'utf8'), readFileSync(ca.keyFile, 'utf8')));
  await api(meshcp.baseUrl, 'PUT', '/meshes/default/dataplanes/web-1', {
    type: 'Dataplane', mesh: 'default', name: 'web-1',
    networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
  });
  const meshcpUrl = `${meshcp.baseUrl}/meshes/default/dataplanes/web-1/certificate`;
  const meshcpBody = JSON.stringify({ csr });

  const cfsslConfig = join(dir, 'cfssl.json');
  writeFileSync(cfsslConfig, JSON.stringify({ signing: { default: { expiry: '24h', usages: ['digital signature', 'server auth', 'client auth'] } } }));
  const cfsslPort = 18000 + Math.floor(Math.random() * 1000);
  const cfssl = spawn('cfssl', ['serve', '-address', '127.0.0.1', '-port', String(cfsslPort), '-ca', ca.certFile, '-ca-key', ca.keyFile, '-config', cfsslConfig], { stdio: 'ignore' });
  const cfsslUrl = `http://127.0.0.1:${cfsslPort}/api/v1/cfssl/sign`;
  const cfsslBody = JSON.stringify({ certificate_request: csr });
  await waitForHttp(`http://127.0.0.1:${cfsslPort}/`);

  try {
    // Both answer the same CSR correctly before anything is timed.
    const mine = await (await fetch(meshcpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: meshcpBody })).json();
    const theirs = await (await fetch(cfsslUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: cfsslBody })).json();
    if (!mine.certificate || !theirs.success) throw new Error('a signer refused the benchmark CSR');

    wrk(meshcpUrl, meshcpBody, dir, 1); // warm-up, not counted
    wrk(cfsslUrl, cfsslBody, dir, 1);
    const runs: { meshcp: number[]; cfssl: number[]; errors: number } = { meshcp: [], cfssl: [], errors: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['meshcp', 'cfssl'] : ['cfssl', 'meshcp'];
      for (const who of order) {
        const result = who === 'meshcp' ? wrk(meshcpUrl, meshcpBody, dir, SECONDS) : wrk(cfsslUrl, cfsslBody, dir, SECONDS);
        runs[who as 'meshcp' | 'cfssl'].push(result.rps);
        runs.errors += result.errors;
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      connections: CONNECTIONS,
      secondsPerRun: SECONDS,
      rounds: ROUNDS,
      meshcpRps: Math.round(mean(runs.meshcp)),
      cfsslRps: Math.round(mean(runs.cfssl)),
      ratio: Number((mean(runs.meshcp) / mean(runs.cfssl)).toFixed(2)),
      runs,
    };
  } finally {
    cfssl.kill('SIGTERM');
    await meshcp.stop();
  }
}
