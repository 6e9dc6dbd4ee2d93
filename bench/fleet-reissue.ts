/**
 * Fleet re-issue: N simulated dataplanes (own tokens, CSRs) long-poll their trust bundles over one keep-alive
 * connection pool; after the switch PUT (rotation step 2) each re-issues when told, after a small random delay
 * as a real agent does. Measures the time until every dataplane holds a certificate of the new backend, and the
 * server's CPU time and peak RSS (a separate process, read from /proc).
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { makeCsr, processUsage, startMeshcp, tempDir } from './lib.js';

const FLEET = Number(process.env.BENCH_FLEET_SIZE ?? 2000);
const REISSUE_JITTER_MS = Number(process.env.BENCH_REISSUE_JITTER_MS ?? 500);
const CSR_POOL = 16;
const trace = (msg: string) => process.env.BENCH_TRACE && console.error(`[fleet] ${msg}`);

const backends = [{ name: 'ca-1', type: 'builtin' }, { name: 'ca-2', type: 'builtin' }];
const mesh = (enabled: string, list = backends) => ({ type: 'Mesh', name: 'default', mtls: { enabledBackend: enabled, backends: list } });

export async function benchFleetReissue() {
  const dir = tempDir('meshcp-bench-fleet-');
  const csrs = Array.from({ length: CSR_POOL }, (_, i) => makeCsr(dir, `dp-${i}`));
  const server = await startMeshcp(join(dir, 'data'), { MESHCP_MAX_LONG_POLLS: String(FLEET * 2) });
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const call = (method: string, path: string, opts: { body?: object; headers?: Record<string, string> } = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const body = opts.body ? JSON.stringify(opts.body) : undefined;
      const req = request(server.baseUrl + path, { method, agent, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...opts.headers } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const must = async (method: string, path: string, opts: { body?: object; headers?: Record<string, string> } = {}) => {
    const res = await call(method, path, opts);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
    return res.body ? JSON.parse(res.body) : undefined;
  };

  let stopping = false;
  try {
    await must('PUT', '/meshes/default', { body: mesh('ca-1', [backends[0]]) });
    const names = Array.from({ length: FLEET }, (_, i) => `dp-${i}`);
    const tokens = new Map<string, string>();
    for (let i = 0; i < FLEET; i += 50) {
      await Promise.all(names.slice(i, i + 50).map(async (name, j) => {
        await must('PUT', `/meshes/default/dataplanes/${name}`, {
          body: { type: 'Dataplane', mesh: 'default', name, networking: { address: '127.0.0.1', inbound: [{ port: 20000 + ((i + j) % 1000), tags: { 'kuma.io/service': `svc-${(i + j) % 20}` } }] } },
        });
        tokens.set(name, (await call('POST', '/tokens/dataplane', { body: { name, mesh: 'default' } })).body);
      }));
    }

    // Each simulated dataplane: certificate, then long-polls with acknowledgement; re-issues when told.
    const held = new Map<string, { backend: string; version: string }>();
    let allOnNewBackend: () => void = () => {};
    const done = new Promise<void>((resolve) => (allOnNewBackend = resolve));
    const countOn = (backend: string) => [...held.values()].filter((h) => h.backend === backend).length;
    const issue = async (name: string, i: number) => {
      const auth = { authorization: `Bearer ${tokens.get(name)}` };
      const cert = await must('POST', `/meshes/default/dataplanes/${name}/certificate`, { body: { csr: csrs[i % CSR_POOL], bundleVersion: held.get(name)?.version }, headers: auth });
      held.set(name, { backend: cert.issuedBackend, version: cert.bundleVersion });
      if (cert.issuedBackend === 'ca-2' && countOn('ca-2') === FLEET) allOnNewBackend();
    };
    const poll = async (name: string, i: number) => {
      const auth = { authorization: `Bearer ${tokens.get(name)}` };
      while (!stopping) {
        const res = await call('GET', `/meshes/default/dataplanes/${name}/trust-bundle?wait=60s`, { headers: { ...auth, 'if-none-match': `"${held.get(name)!.version}"` } });
        if (res.status === 304) continue;
        if (res.status !== 200) throw new Error(`poll ${name}: ${res.status} ${res.body}`);
        const bundle = JSON.parse(res.body);
        held.set(name, { ...held.get(name)!, version: bundle.bundleVersion });
        if (bundle.reissue) {
          await new Promise((r) => setTimeout(r, Math.random() * REISSUE_JITTER_MS));
          await issue(name, i);
        }
      }
    };
    trace('registered');
    for (let i = 0; i < FLEET; i += 100) await Promise.all(names.slice(i, i + 100).map((name, j) => issue(name, i + j)));
    const polls = names.map((name, i) => poll(name, i).catch((err) => { if (!stopping) throw err; }));

    trace('issued');
    await must('PUT', '/meshes/default', { body: mesh('ca-1') }); // step 1: add ca-2
    for (;;) {
      const status = await must('GET', '/meshes/default/ca-rotation');
      if (status.nextStep.action === 'enable' && status.nextStep.ready) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    trace('ready for step 2');
    const before = processUsage(server.child.pid!);
    const started = Date.now();
    await must('PUT', '/meshes/default', { body: mesh('ca-2') }); // step 2: the switch
    const progress = setInterval(() => trace(`on ca-2: ${countOn('ca-2')}`), 1000);
    await done;
    clearInterval(progress);
    const seconds = (Date.now() - started) / 1000;
    const after = processUsage(server.child.pid!);
    const status = await must('GET', '/meshes/default/ca-rotation');
    const onCa2 = status.backends.find((b: { name: string }) => b.name === 'ca-2').dataplanesIssued;
    if (onCa2 !== FLEET) throw new Error(`the CP counts ${onCa2} dataplanes on ca-2, expected ${FLEET}`);
    stopping = true;
    return {
      dataplanes: FLEET,
      reissueJitterMs: REISSUE_JITTER_MS,
      secondsUntilAllReissued: Number(seconds.toFixed(2)),
      serverCpuSeconds: Number((after.cpuSeconds - before.cpuSeconds).toFixed(2)),
      serverPeakRssMiB: after.peakRssMiB,
      step3Ready: status.nextStep.action === 'remove' && status.nextStep.ready,
      pollsRunning: polls.length,
    };
  } finally {
    stopping = true;
    await server.stop();
    agent.destroy();
  }
}
