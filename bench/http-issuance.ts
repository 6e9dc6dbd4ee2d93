/**
 * HTTP issuance from CSRs, as a real dataplane asks and as the admin path asks, against `cfssl serve` (Go) on the
 * same ECDSA P-256 CA, the same CSR and the same wrk load (connections, threads, duration), alternating runs,
 * warm-up excluded. Besides certificates per second it reports the server's CPU per issued certificate: the process
 * CPU time of all its threads (/proc/<pid>/stat utime+stime, read before and after each run) divided by the
 * certificates issued in the run. The "fresh keys" runs rotate through thousands of pre-made CSRs, each with its own
 * key, so nothing the server might keep per key helps (proof of possession is verified on every request anyway).
 *
 * The dataplane runs use the dataplane's own token (tags checked against the registered Dataplane, as on every real
 * request), send the `bundleVersion` it holds (an acknowledgement the server records) and run under a raised rate cap
 * (MESHCP_DP_CERT_REQUESTS_PER_MINUTE); the admin runs are loopback admin requests, as issue 7 measured.
 *
 * Alone: `npx tsx bench/http-issuance.ts` (builds first). Knobs: BENCH_SECONDS (4), BENCH_ROUNDS (3),
 * BENCH_CONNECTIONS (16), BENCH_CSR_POOL (4000), BENCH_TARGETS (e.g. `dataplane,cfssl`), BENCH_JSON=<file> (writes the
 * figures with the machine's description), MESHCP_SIGNING_WORKERS; BENCH_CPU_PROF=<dir> writes the server's
 * .cpuprofile there, read it with `npx tsx bench/cpuprofile-top.ts <dir>`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startCluster } from '../test/helpers/pg-cluster.mjs';
import { newKeyAndCsr } from '../src/agent/csr.js';
import {
  api,
  describeMachine,
  makeCsr,
  makeEcdsaCa,
  meshWithProvidedCa,
  ROOT,
  startMeshcp,
  tempDir,
  threadCpuSeconds,
} from './lib.js';
import { runWrk, type WrkLoad } from './wrk.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const THREADS = 2;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CSR_POOL = Number(process.env.BENCH_CSR_POOL ?? 4000);

const ALL_TARGETS = ['admin', 'dataplane', 'dataplaneFreshKeys', 'cfssl', 'cfsslFreshKeys'] as const;
type Target = (typeof ALL_TARGETS)[number];
/** BENCH_TARGETS=dataplane,cfssl runs only those (e.g. to profile one path); the ratios then need both sides. */
const TARGETS = ALL_TARGETS.filter(
  (t) => !process.env.BENCH_TARGETS || process.env.BENCH_TARGETS.split(',').includes(t),
);

export interface TargetResult {
  /** Median over the rounds. */
  certsPerSecond: number;
  /** Median over the rounds: server CPU (all threads) per issued certificate. */
  cpuMicrosPerCert: number;
  /** Median over the rounds: the part of it spent on the process's main thread (for Go, its first thread only). */
  mainThreadMicrosPerCert: number;
  runs: {
    certsPerSecond: number;
    cpuMicrosPerCert: number;
    mainThreadMicrosPerCert: number;
    certificates: number;
    errors: number;
  }[];
}

export type HttpIssuanceResult = {
  engine: 'sqlite' | 'postgres';
  connections: number;
  threads: number;
  secondsPerRun: number;
  rounds: number;
  csrPool: number;
  signingWorkers: string;
  loadAverageBefore: number[];
  /** meshcp dataplane path CPU per certificate over cfssl's (same CSR); the target is <= 1. */
  dataplaneCpuRatio: number;
  /** The same with a fresh key per CSR on both sides. */
  freshKeysCpuRatio: number;
  /** Issue 7's figures (admin path vs cfssl, certificates per second), kept so bench/run.ts reads them unchanged. */
  meshcpRps: number;
  cfsslRps: number;
  ratio: number;
} & Record<Target, TargetResult>;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

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

/** `count` distinct P-256 keys and their CSRs, as request bodies (one JSON per line) made by `toBody`. */
function csrPoolFile(dir: string, name: string, csrs: string[], toBody: (csr: string) => unknown): string {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, csrs.map((csr) => JSON.stringify(toBody(csr))).join('\n') + '\n');
  return file;
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * The control plane's store for the run: SQLite in its data dir, or a throw-away PostgreSQL cluster (then only the
 * dataplane path runs: the store is what the column compares).
 */
async function storeEnv(
  engine: 'sqlite' | 'postgres',
): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  if (engine === 'sqlite') return { env: {}, stop: async () => {} };
  const cluster = await startCluster({ signals: false });
  await cluster.createDatabase('bench');
  return {
    env: {
      MESHCP_STORE_TYPE: 'postgres',
      MESHCP_STORE_POSTGRES_HOST: cluster.host,
      MESHCP_STORE_POSTGRES_PORT: String(cluster.port),
      MESHCP_STORE_POSTGRES_USER: cluster.user,
      MESHCP_STORE_POSTGRES_PASSWORD: cluster.password,
      MESHCP_STORE_POSTGRES_DB_NAME: 'bench',
      MESHCP_STORE_POSTGRES_AUTO_MIGRATE: 'true',
      MESHCP_SECRETS_KEY: randomBytes(32).toString('base64'),
    },
    stop: () => cluster.stop(),
  };
}

export async function benchHttpIssuance(options: { engine?: 'sqlite' | 'postgres' } = {}): Promise<HttpIssuanceResult> {
  const engine = options.engine ?? 'sqlite';
  const targets: readonly Target[] = engine === 'sqlite' ? TARGETS : ['dataplane'];
  const store = await storeEnv(engine);
  const dir = tempDir('meshcp-bench-http-');
  const ca = makeEcdsaCa(dir);
  const csr = makeCsr(dir);
  const freshCsrs = Array.from({ length: CSR_POOL }, (_, i) => newKeyAndCsr(`bench-${i}`).csrPem);

  const env: Record<string, string> = { ...store.env, MESHCP_DP_CERT_REQUESTS_PER_MINUTE: '1000000000' };
  if (process.env.MESHCP_SIGNING_WORKERS) env.MESHCP_SIGNING_WORKERS = process.env.MESHCP_SIGNING_WORKERS;
  if (process.env.BENCH_CPU_PROF) {
    env.NODE_OPTIONS = `--import ${join(ROOT, 'bench/cpu-profile-preload.mjs')}`;
    env.MESHCP_CPU_PROF_DIR = process.env.BENCH_CPU_PROF;
  }
  const meshcp = await startMeshcp(join(dir, 'data'), env);
  const cfsslConfig = join(dir, 'cfssl.json');
  writeFileSync(
    cfsslConfig,
    JSON.stringify({
      signing: { default: { expiry: '24h', usages: ['digital signature', 'server auth', 'client auth'] } },
    }),
  );
  const cfsslPort = 18000 + Math.floor(Math.random() * 1000);
  const cfssl = spawn(
    'cfssl',
    [
      'serve',
      '-address',
      '127.0.0.1',
      '-port',
      String(cfsslPort),
      '-ca',
      ca.certFile,
      '-ca-key',
      ca.keyFile,
      '-config',
      cfsslConfig,
    ],
    { stdio: 'ignore' },
  );
  try {
    await api(
      meshcp.baseUrl,
      'PUT',
      '/meshes/default',
      meshWithProvidedCa(readFileSync(ca.certFile, 'utf8'), readFileSync(ca.keyFile, 'utf8')),
    );
    const tags = { 'kuma.io/service': ['web'] };
    await api(meshcp.baseUrl, 'PUT', '/meshes/default/dataplanes/web-1', {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
    });
    const tokenRes = await fetch(`${meshcp.baseUrl}/tokens/dataplane`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mesh: 'default', name: 'web-1', tags }),
    });
    if (!tokenRes.ok) throw new Error(`token: ${tokenRes.status} ${await tokenRes.text()}`);
    const dpHeaders = { Authorization: `Bearer ${(await tokenRes.text()).trim()}` };
    const meshcpUrl = `${meshcp.baseUrl}/meshes/default/dataplanes/web-1/certificate`;
    const { bundleVersion } = await post(meshcpUrl, JSON.stringify({ csr }));
    const cfsslUrl = `http://127.0.0.1:${cfsslPort}/api/v1/cfssl/sign`;
    await waitForHttp(`http://127.0.0.1:${cfsslPort}/`);

    const loads: Record<Target, WrkLoad> = {
      admin: { url: meshcpUrl, headers: {}, body: JSON.stringify({ csr }) },
      dataplane: { url: meshcpUrl, headers: dpHeaders, body: JSON.stringify({ csr, bundleVersion }) },
      dataplaneFreshKeys: {
        url: meshcpUrl,
        headers: dpHeaders,
        bodiesFile: csrPoolFile(dir, 'meshcp-dp', freshCsrs, (c) => ({ csr: c, bundleVersion })),
      },
      cfssl: { url: cfsslUrl, headers: {}, body: JSON.stringify({ certificate_request: csr }) },
      cfsslFreshKeys: {
        url: cfsslUrl,
        headers: {},
        bodiesFile: csrPoolFile(dir, 'cfssl', freshCsrs, (c) => ({ certificate_request: c })),
      },
    };
    // Every load is answered correctly before anything is timed (a dataplane answer, cfssl's success flag).
    const check = await post(meshcpUrl, loads.dataplane.body!, dpHeaders);
    const theirs = await post(cfsslUrl, loads.cfssl.body!);
    if (!check.certificate || !theirs.success) throw new Error('a signer refused the benchmark CSR');

    const pidOf = (target: Target) => (target.startsWith('cfssl') ? cfssl.pid! : meshcp.child.pid!);
    const wrkOptions = { connections: CONNECTIONS, threads: THREADS };
    for (const target of targets) runWrk(loads[target], dir, { ...wrkOptions, seconds: 1 }); // warm-up, not counted

    const loadAverageBefore = loadavg().map((l) => Number(l.toFixed(2)));
    const runs = Object.fromEntries(ALL_TARGETS.map((t) => [t, [] as TargetResult['runs']])) as Record<
      Target,
      TargetResult['runs']
    >;
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        const pid = pidOf(target);
        const before = threadCpuSeconds(pid);
        const result = runWrk(loads[target], dir, { ...wrkOptions, seconds: SECONDS });
        const after = threadCpuSeconds(pid);
        const certificates = result.requests - result.errors;
        const perCert = (seconds: number) => Math.round((seconds * 1e6) / Math.max(1, certificates));
        runs[target].push({
          certsPerSecond: Math.round(result.rps * (certificates / Math.max(1, result.requests))),
          cpuMicrosPerCert: perCert(after.all - before.all),
          mainThreadMicrosPerCert: perCert(after.main - before.main),
          certificates,
          errors: result.errors,
        });
      }
    }
    const summary = (target: Target): TargetResult =>
      runs[target].length === 0
        ? { certsPerSecond: NaN, cpuMicrosPerCert: NaN, mainThreadMicrosPerCert: NaN, runs: [] }
        : {
            certsPerSecond: median(runs[target].map((r) => r.certsPerSecond)),
            cpuMicrosPerCert: median(runs[target].map((r) => r.cpuMicrosPerCert)),
            mainThreadMicrosPerCert: median(runs[target].map((r) => r.mainThreadMicrosPerCert)),
            runs: runs[target],
          };
    const results = Object.fromEntries(ALL_TARGETS.map((t) => [t, summary(t)])) as Record<Target, TargetResult>;
    return {
      engine,
      connections: CONNECTIONS,
      threads: THREADS,
      secondsPerRun: SECONDS,
      rounds: ROUNDS,
      csrPool: CSR_POOL,
      signingWorkers: process.env.MESHCP_SIGNING_WORKERS ?? 'default',
      loadAverageBefore,
      ...results,
      dataplaneCpuRatio: Number((results.dataplane.cpuMicrosPerCert / results.cfssl.cpuMicrosPerCert).toFixed(2)),
      freshKeysCpuRatio: Number(
        (results.dataplaneFreshKeys.cpuMicrosPerCert / results.cfsslFreshKeys.cpuMicrosPerCert).toFixed(2),
      ),
      meshcpRps: results.admin.certsPerSecond,
      cfsslRps: results.cfssl.certsPerSecond,
      ratio: Number((results.admin.certsPerSecond / results.cfssl.certsPerSecond).toFixed(2)),
    };
  } finally {
    cfssl.kill('SIGTERM');
    await meshcp.stop();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line per target, for a terminal. */
export function describeHttpIssuance(r: HttpIssuanceResult): string[] {
  return TARGETS.map(
    (t) =>
      `${t.padEnd(20)} ${String(r[t].certsPerSecond).padStart(6)}/s  ${String(r[t].cpuMicrosPerCert).padStart(5)} µs CPU/cert (main thread ${String(r[t].mainThreadMicrosPerCert).padStart(4)})  (runs: ${r[t].runs.map((x) => `${x.certsPerSecond}/s ${x.cpuMicrosPerCert} µs${x.errors ? ` ${x.errors} errors` : ''}`).join(', ')})`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const result = await benchHttpIssuance();
  const machine = describeMachine();
  console.log(
    `machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, OpenSSL ${machine.openssl}, cfssl ${machine.cfssl}; load average before: ${result.loadAverageBefore.join(' ')}`,
  );
  for (const line of describeHttpIssuance(result)) console.log(line);
  console.log(
    `dataplane CPU/cert vs cfssl: ${result.dataplaneCpuRatio}x, fresh keys: ${result.freshKeysCpuRatio}x (target <= 1)`,
  );
  if (process.env.BENCH_JSON)
    writeFileSync(process.env.BENCH_JSON, JSON.stringify({ machine, http: result }, null, 2) + '\n');
}
