/**
 * 10,000 dataplanes long-polling one control plane process (issue 17). The fleet runs in its own process
 * (bench/fleet-loadgen.mjs, one connection per dataplane); this process drives a CA rotation and plays the operator:
 * every ~50 ms a status GET and a dry-run PUT, timed while the fleet storms. Measures the control plane's peak RSS,
 * how fast step 1's bundle reaches every dataplane, how fast step 2's re-issue completes (CSR mode, with the agent's
 * jitter), and the operator's latencies meanwhile. Run alone: `npx tsx bench/fleet-longpoll.ts` (builds first).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCsr, percentile, processUsage, ROOT, startMeshcp, tempDir } from './lib.js';

const FLEET = Number(process.env.BENCH_FLEET_SIZE ?? 10_000);
const JITTER_MS = Number(process.env.BENCH_REISSUE_JITTER_MS ?? 2000); // the agent's default --reissue-delay
const SAMPLE_EVERY_MS = 50;
const trace = (msg: string) => process.env.BENCH_TRACE && console.error(`[fleet-longpoll] ${msg}`);

const backends = [
  { name: 'ca-1', type: 'builtin' },
  { name: 'ca-2', type: 'builtin' },
];
const mesh = (enabled: string, list = backends) => ({
  type: 'Mesh',
  name: 'default',
  mtls: { enabledBackend: enabled, backends: list },
});

/** The descriptor limit this process (and so its children) may use: 10,000 sockets on each side, and some. */
function raiseFdLimit(): void {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), '--nofile=65536:65536'], { stdio: 'ignore' });
  } catch {
    // not root: the machine's limit must then already be above the fleet size (checked by the run itself)
  }
}

function currentRssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return Math.round(kb / 1024);
}

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: Math.round(percentile(sorted, 50) * 10) / 10,
    p99Ms: Math.round(percentile(sorted, 99) * 10) / 10,
    maxMs: Math.round(sorted[sorted.length - 1] * 10) / 10,
  };
};

export async function benchFleetLongPoll() {
  raiseFdLimit();
  const dir = tempDir('meshcp-bench-longpoll-');
  const csrs = Array.from({ length: 16 }, (_, i) => makeCsr(dir, `dp-${i}`));
  const memoryFile = join(dir, 'server-memory.json');
  const server = await startMeshcp(join(dir, 'data'), {
    MESHCP_MAX_LONG_POLLS: String(FLEET * 2),
    MESHCP_API_MAX_CONNECTIONS: String(FLEET * 2),
    MESHCP_API_MAX_CONNECTIONS_PER_ADDRESS: '0', // the whole fleet comes from 127.0.0.1
    MESHCP_DP_CERT_REQUESTS_PER_MINUTE: '1000',
    // What the peak RSS is made of, sampled inside the server; and with BENCH_SERVER_CPU_PROF=<dir>, a CPU profile of
    // its main thread, written there on exit.
    NODE_OPTIONS: [
      `--import ${join(ROOT, 'bench/server-memory-sampler.mjs')}`,
      ...(process.env.BENCH_SERVER_CPU_PROF ? [`--import ${join(ROOT, 'bench/server-cpu-profile.mjs')}`] : []),
    ].join(' '),
    MESHCP_BENCH_MEMORY_FILE: memoryFile,
    ...(process.env.BENCH_SERVER_CPU_PROF ? { MESHCP_BENCH_PROFILE_DIR: process.env.BENCH_SERVER_CPU_PROF } : {}),
  });
  const operator = new Agent({ keepAlive: true, maxSockets: 4 });
  const call = (method: string, path: string, body?: object) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const text = body ? JSON.stringify(body) : undefined;
      const req = request(
        server.baseUrl + path,
        { method, agent: operator, headers: text ? { 'content-type': 'application/json' } : {} },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (data += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: data }));
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  const must = async (method: string, path: string, body?: object) => {
    const res = await call(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
    return res.body ? JSON.parse(res.body) : undefined;
  };

  const sampledHeapUsedMiB = (): number => JSON.parse(readFileSync(`${memoryFile}.pauses.json`, 'utf8')).heapUsedMiB;
  let loadgen: ChildProcess | undefined;
  try {
    await must('PUT', '/meshes/default', mesh('ca-1', [backends[0]]));
    await new Promise((r) => setTimeout(r, 1200)); // the sampler writes its file every second
    const heapBeforeFleetMiB = sampledHeapUsedMiB();
    loadgen = fork(join(ROOT, 'bench/fleet-loadgen.mjs'), [], {
      env: {
        ...process.env,
        FLEET_CONFIG: JSON.stringify({
          baseUrl: server.baseUrl,
          fleet: FLEET,
          csrs,
          jitterMs: JITTER_MS,
          pollWait: '60s',
        }),
      },
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const messages: any[] = [];
    const waiters: Array<() => void> = [];
    loadgen.on('message', (msg: any) => {
      messages.push(msg);
      for (const wake of waiters.splice(0)) wake();
    });
    const exited = new Promise<never>((_, reject) =>
      loadgen!.once('exit', (code) => reject(new Error(`the fleet process exited (${code})`))),
    );
    const next = async (type: string) => {
      for (;;) {
        const error = messages.find((m) => m.type === 'error');
        if (error) throw new Error(`fleet: ${error.message}`);
        const index = messages.findIndex((m) => m.type === type);
        if (index >= 0) return messages.splice(index, 1)[0];
        await Promise.race([new Promise<void>((wake) => waiters.push(wake)), exited]);
      }
    };

    const setupStarted = Date.now();
    loadgen.send({ cmd: 'start' });
    await next('ready');
    trace(`fleet registered, issued and polling in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 3000)); // every poll has reached the server and waits
    const idleRssMiB = currentRssMiB(server.child.pid!);
    const heapPerPollKiB = Math.round(((sampledHeapUsedMiB() - heapBeforeFleetMiB) * 1024) / FLEET);

    // The operator: a status GET and a dry-run PUT every ~50 ms, each timed, for as long as `sampling` holds.
    const operatorTimes = { status: [] as number[], dryRun: [] as number[] };
    let sampling = false;
    let stopSampler = false;
    let dryRunBody = mesh('ca-2');
    const sampler = (async () => {
      for (;;) {
        if (!sampling) {
          await new Promise((r) => setTimeout(r, 10));
          if (stopSampler) return;
          continue;
        }
        const tick = Date.now();
        let start = performance.now();
        const status = await call('GET', '/meshes/default/ca-rotation');
        operatorTimes.status.push(performance.now() - start);
        if (status.status !== 200) throw new Error(`status: ${status.status} ${status.body}`);
        start = performance.now();
        const dry = await call('PUT', '/meshes/default?dryRun=true', dryRunBody);
        operatorTimes.dryRun.push(performance.now() - start);
        if (dry.status !== 200 && dry.status !== 409) throw new Error(`dry run: ${dry.status} ${dry.body}`);
        await new Promise((r) => setTimeout(r, Math.max(0, SAMPLE_EVERY_MS - (Date.now() - tick))));
      }
    })().catch((err: Error) => err);

    // Step 1: add ca-2. Every dataplane must hear the new bundle.
    // Measured from the PUT's answer (its commit): the PUT itself first generates ca-2's RSA key in the thread pool,
    // which says nothing about the fleet (its duration is reported apart). The operator samples from then on too: a
    // dry run of step 2 sent before step 1 committed would generate a key of its own.
    loadgen.send({ cmd: 'mark', phase: 'propagate' });
    await next('marked');
    const step1Start = Date.now();
    await must('PUT', '/meshes/default', mesh('ca-1'));
    const step1At = Date.now();
    sampling = true;
    const propagated = (await next('done')).times.map((t: number) => Math.max(0, t - step1At));
    trace(`step 1 propagated: ${JSON.stringify(summary(propagated))}`);
    for (;;) {
      const status = await must('GET', '/meshes/default/ca-rotation');
      if (status.nextStep.action === 'enable' && status.nextStep.ready) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    sampling = false;

    // Step 2: enable ca-2. Every dataplane re-issues (after its jitter) from a CSR.
    dryRunBody = mesh('ca-2', [backends[1]]);
    loadgen.send({ cmd: 'mark', phase: 'reissue', backend: 'ca-2' });
    await next('marked');
    const cpuBefore = processUsage(server.child.pid!).cpuSeconds;
    sampling = true;
    const step2At = Date.now();
    await must('PUT', '/meshes/default', mesh('ca-2'));
    const reissueDone = await next('done');
    const reissued = reissueDone.times.map((t: number) => t - step2At);
    sampling = false;
    stopSampler = true;
    const samplerError = await sampler;
    if (samplerError) throw samplerError;
    const usage = processUsage(server.child.pid!);
    trace(`step 2 re-issued: ${JSON.stringify(summary(reissued))}`);
    const status = await must('GET', '/meshes/default/ca-rotation');
    const onCa2 = status.backends.find((b: { name: string }) => b.name === 'ca-2').dataplanesIssued;
    if (onCa2 !== FLEET) throw new Error(`the CP counts ${onCa2} dataplanes on ca-2, expected ${FLEET}`);

    return {
      dataplanes: FLEET,
      reissueJitterMs: JITTER_MS,
      serverIdleRssMiB: idleRssMiB,
      /** The V8 heap in use per waiting poll: (heap with the fleet idle - heap before the fleet came) / fleet. */
      serverHeapPerWaitingPollKiB: heapPerPollKiB,
      serverPeakRssMiB: usage.peakRssMiB,
      /** process.memoryUsage() at the highest RSS sampled inside the server (MiB). */
      serverMemoryAtPeakMiB: JSON.parse(readFileSync(memoryFile, 'utf8')) as Record<string, number>,
      /** Over the whole run, inside the server: garbage-collection pauses and the event loop's delay. */
      serverPauses: JSON.parse(readFileSync(`${memoryFile}.pauses.json`, 'utf8')) as Record<
        string,
        Record<string, number>
      >,
      step1PutMs: step1At - step1Start,
      step1Propagation: summary(propagated),
      step2Reissue: { ...summary(reissued), secondsUntilAll: Math.round(Math.max(...reissued) / 10) / 100 },
      step2RefusedAndRetried: reissueDone.retries,
      connectionErrorsRetried: reissueDone.connectionErrors,
      step2ServerCpuSeconds: Math.round((usage.cpuSeconds - cpuBefore) * 100) / 100,
      operatorStatus: summary(operatorTimes.status),
      operatorDryRun: summary(operatorTimes.dryRun),
      step3Ready: status.nextStep.action === 'remove' && status.nextStep.ready,
    };
  } finally {
    if (loadgen && loadgen.exitCode === null) {
      loadgen.kill('SIGKILL'); // 10,000 sockets must never outlive the bench
      await new Promise((r) => loadgen!.once('exit', r));
    }
    await server.stop();
    operator.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? '')) {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  console.log(JSON.stringify(await benchFleetLongPoll(), null, 2));
}
