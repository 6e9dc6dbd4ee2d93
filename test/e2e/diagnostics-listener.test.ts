// The diagnostics listener of a real process: the API's connection gate and timeouts apply to it (one address cannot
// hold the descriptors the API needs from it, a silent socket is closed), and /metrics keeps answering while
// PostgreSQL is down, saying so with meshcp_store_up.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const started: CpProcess[] = [];
const sockets: Socket[] = [];
let cluster: PgCluster | undefined;
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(started.map((cp) => cp.stop()));
  await cluster?.stop();
});

function metricsUrl(cp: CpProcess): string {
  const line = cp.logs.find((l) => l.msg === 'diagnostics listening (Prometheus metrics)');
  assert.ok(line, JSON.stringify(cp.logs));
  return line.url as string;
}

/** A socket from `localAddress`; `partial` writes the start of a request (so no first-byte timeout can close it). */
function open(
  port: number,
  localAddress: string,
  partial: boolean,
): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    sockets.push(socket);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', () => {});
    socket.resume(); // a closed socket says so only once its stream is read
    socket.once('connect', () => {
      if (partial) socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

const within = (ms: number, what: Promise<void>) =>
  Promise.race([
    what.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref()),
  ]);

describe('the diagnostics listener', { timeout: 90_000 }, () => {
  it('shares the API connection gate: per-address cap and first-byte timeout', async () => {
    const cp = await startCpProcess({
      MESHCP_DIAGNOSTICS_PORT: '0',
      MESHCP_API_MAX_CONNECTIONS_PER_ADDRESS: '4',
      MESHCP_API_FIRST_BYTE_TIMEOUT: '1s',
    });
    started.push(cp);
    const url = metricsUrl(cp);
    const apiPort = Number(new URL(cp.baseUrl).port);
    const diagnosticsPort = Number(new URL(url).port);

    // 127.0.0.2 holds its 4 connections on the API port (kept alive after one answered request each, so the server
    // has certainly admitted them)...
    for (let i = 0; i < 4; i++) {
      const { socket } = await open(apiPort, '127.0.0.2', false);
      const answered = new Promise((resolve) => socket.once('data', resolve));
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await answered;
    }
    // ...so its fifth, on the diagnostics port, is closed at once: one gate, one count per address.
    const fifth = await open(diagnosticsPort, '127.0.0.2', true);
    assert.ok(await within(5_000, fifth.closed), 'the diagnostics port closed the connection over the per-address cap');
    // Another address still scrapes.
    const res = await fetch(url);
    assert.equal(res.status, 200);

    // A socket that sends nothing is closed after the first-byte timeout (1 s here; Node's own bound is 60 s).
    const silent = await open(diagnosticsPort, '127.0.0.3', false);
    assert.ok(await within(20_000, silent.closed), 'a silent socket on the diagnostics port is closed');
  });

  it('answers /metrics while PostgreSQL is down, with meshcp_store_up 0, and 1 once it is back', async () => {
    cluster = await startPostgres();
    await cluster.createDatabase('meshcp');
    const cp = await startCpProcess(
      {
        MESHCP_DIAGNOSTICS_PORT: '0',
        MESHCP_STORE_TYPE: 'postgres',
        MESHCP_STORE_POSTGRES_HOST: cluster.host,
        MESHCP_STORE_POSTGRES_PORT: String(cluster.port),
        MESHCP_STORE_POSTGRES_USER: cluster.user,
        MESHCP_STORE_POSTGRES_PASSWORD: cluster.password,
        MESHCP_STORE_POSTGRES_DB_NAME: 'meshcp',
        MESHCP_STORE_POSTGRES_AUTO_MIGRATE: 'true',
        MESHCP_SECRETS_KEY: randomBytes(32).toString('base64'),
      },
      60_000,
    );
    started.push(cp);
    const url = metricsUrl(cp);
    const scrape = async () => {
      const res = await fetch(url);
      return { status: res.status, text: await res.text() };
    };
    const up = await scrape();
    assert.equal(up.status, 200);
    assert.match(up.text, /^meshcp_store_up 1$/m);
    assert.match(up.text, /^meshcp_active_dataplanes\{mesh="default"\} 0$/m);

    await cluster.shutdown();
    const down = await waitFor(
      'a scrape while PostgreSQL is down',
      async () => {
        const s = await scrape();
        assert.equal(s.status, 200, s.text);
        return /^meshcp_store_up 0$/m.test(s.text) ? s.text : undefined;
      },
      30_000,
    );
    assert.match(down, /^process_resident_memory_bytes \d+/m, 'what does not need the store is still there');
    assert.match(down, /^meshcp_trust_bundle_long_polls 0$/m);
    assert.doesNotMatch(down, /^meshcp_active_dataplanes\{/m, 'no stale store-derived series');

    await cluster.start();
    await waitFor(
      'a scrape with PostgreSQL back',
      async () => /^meshcp_store_up 1$/m.test((await scrape()).text),
      30_000,
    );
  });
});
