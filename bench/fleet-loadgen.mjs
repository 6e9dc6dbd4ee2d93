// The fleet of bench/fleet-longpoll.ts, in its own process so the control plane's CPU and the fleet's do not share a
// thread: N simulated dataplanes, each on ONE keep-alive connection of its own, as a real proxy's agent holds one.
// Each registers (as the loopback admin), gets a token and a certificate from a CSR, then long-polls its trust
// bundle with If-None-Match; told `reissue: true`, it waits a random delay (the agent's jitter) and re-issues.
// Driven over IPC by the parent: {cmd:'start'} -> {type:'ready'}; {cmd:'mark', phase} -> {type:'marked'}, later
// {type:'done', phase, times}: per dataplane, the wall-clock time (Date.now()) it got a new bundle version
// ('propagate') or a certificate of `backend` ('reissue'); the parent subtracts the time its PUT started.
import { Agent, request } from 'node:http';

const { baseUrl, fleet, csrs, jitterMs, pollWait } = JSON.parse(process.env.FLEET_CONFIG);
let stopping = false;
let retries = 0; // requests refused with 503/429 and sent again
let connectionErrors = 0; // requests that failed on their connection and were sent again

function call(agent, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      baseUrl + path,
      { method, agent, headers: { ...(text ? { 'content-type': 'application/json' } : {}), ...headers } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () =>
          resolve({ status: res.statusCode, body: data, retryAfter: Number(res.headers['retry-after'] ?? 0) }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

async function must(agent, method, path, body, headers) {
  for (;;) {
    const res = await resilient(() => call(agent, method, path, body, headers));
    // Admission control answers 503 + Retry-After under a burst: as the agent does, wait at least that long, and
    // spread the retries (the agent's own backoff is random too).
    if (res.status === 503 || res.status === 429) {
      retries++;
      await new Promise((r) => setTimeout(r, Math.max(200, res.retryAfter * 1000) * (1 + Math.random())));
      continue;
    }
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
    return res.body ? JSON.parse(res.body) : undefined;
  }
}

const dataplanes = Array.from({ length: fleet }, (_, i) => ({
  name: `dp-${i}`,
  csr: csrs[i % csrs.length],
  agent: new Agent({ keepAlive: true, maxSockets: 1 }),
  auth: undefined,
  version: undefined,
  backend: undefined,
}));
let mark; // { phase, backend?, fromVersion: Map<name, version>, times: Map<name, Date.now()> }

function observe(dp) {
  if (!mark || mark.times.has(dp.name)) return;
  const hit = mark.phase === 'propagate' ? dp.version !== mark.fromVersion.get(dp.name) : dp.backend === mark.backend;
  if (!hit) return;
  mark.times.set(dp.name, Date.now());
  if (mark.times.size === fleet)
    process.send({ type: 'done', phase: mark.phase, times: [...mark.times.values()], retries, connectionErrors });
}

async function issue(dp) {
  const cert = await must(
    dp.agent,
    'POST',
    `/meshes/default/dataplanes/${dp.name}/certificate`,
    { csr: dp.csr, bundleVersion: dp.version },
    dp.auth,
  );
  dp.backend = cert.issuedBackend;
  dp.version = cert.bundleVersion;
  observe(dp);
}

/** A request that fails on the connection (reset, refused) is sent again after a pause, as the agent does. */
async function resilient(send) {
  for (;;) {
    try {
      return await send();
    } catch (err) {
      if (stopping || !['ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(err.code)) throw err;
      connectionErrors++;
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 500));
    }
  }
}

async function poll(dp) {
  while (!stopping) {
    const res = await resilient(() =>
      call(dp.agent, 'GET', `/meshes/default/dataplanes/${dp.name}/trust-bundle?wait=${pollWait}`, undefined, {
        ...dp.auth,
        'if-none-match': `"${dp.version}"`,
      }),
    );
    if (res.status === 304) continue;
    if (res.status === 429 || res.status === 503) {
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    if (res.status !== 200) throw new Error(`poll ${dp.name}: ${res.status} ${res.body}`);
    const bundle = JSON.parse(res.body);
    dp.version = bundle.bundleVersion;
    observe(dp);
    if (bundle.reissue) {
      await new Promise((r) => setTimeout(r, Math.random() * jitterMs));
      await issue(dp);
    }
  }
}

async function register(dp, i) {
  const spec = {
    type: 'Dataplane',
    mesh: 'default',
    name: dp.name,
    networking: {
      address: '127.0.0.1',
      inbound: [{ port: 20000 + (i % 1000), tags: { 'kuma.io/service': `svc-${i % 20}` } }],
    },
  };
  await must(dp.agent, 'PUT', `/meshes/default/dataplanes/${dp.name}`, spec);
  const token = await call(dp.agent, 'POST', '/tokens/dataplane', { name: dp.name, mesh: 'default' });
  if (token.status !== 200) throw new Error(`token ${dp.name}: ${token.status} ${token.body}`);
  dp.auth = { authorization: `Bearer ${token.body}` };
  await issue(dp);
}

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'start') {
      for (let i = 0; i < fleet; i += 100)
        await Promise.all(dataplanes.slice(i, i + 100).map((dp, j) => register(dp, i + j)));
      for (const dp of dataplanes)
        poll(dp).catch((err) => {
          if (!stopping) fail(err);
        });
      process.send({ type: 'ready' });
    } else if (msg.cmd === 'mark') {
      mark = {
        phase: msg.phase,
        backend: msg.backend,
        times: new Map(),
        fromVersion: new Map(dataplanes.map((dp) => [dp.name, dp.version])),
      };
      process.send({ type: 'marked' });
    } else if (msg.cmd === 'stop') {
      stopping = true;
      process.exit(0);
    }
  } catch (err) {
    fail(err);
  }
});

function fail(err) {
  process.send({ type: 'error', message: String(err?.stack ?? err) });
  process.exit(1);
}
process.on('disconnect', () => process.exit(0)); // the parent is gone: never outlive it
