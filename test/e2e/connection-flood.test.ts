// One remote address opens 20,000 idle and slowly-writing connections to the real process: a proxy elsewhere still
// gets /healthz and its certificate, because one address may hold only its share of the descriptors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { httpCall } from '../helpers/http.js';

const ATTACK_CONNECTIONS = 20_000;
const PER_ADDRESS = 1_024;
/** Another loopback address: to the server, a different remote address from the 127.0.0.1 the proxy uses. */
const ATTACKER_ADDRESS = '127.0.0.2';

describe('a connection flood from one address', () => {
  let cp: CpProcess;
  let port: number;
  const sockets = new Set<Socket>();
  let slowloris: NodeJS.Timeout | undefined;
  before(async () => {
    // The server runs with this machine's descriptor limit (20,000 here); the attacker needs more than that.
    try {
      execFileSync('prlimit', ['--pid', String(process.pid), '--nofile=65536:65536']);
    } catch {
      // not root or no prlimit: the attacker then holds fewer sockets, which only makes the test easier to pass
    }
    cp = await startCpProcess({ MESHCP_API_MAX_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS) });
    port = Number(new URL(cp.baseUrl).port);
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
    };
    assert.equal((await httpCall(cp.baseUrl, 'PUT', '/meshes/default', { body: mesh })).status, 200);
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: { address: '127.0.0.1', inbound: [{ port: 1, servicePort: 2, tags: { 'kuma.io/service': 'web' } }] },
    };
    assert.equal((await httpCall(cp.baseUrl, 'PUT', '/meshes/default/dataplanes/web-1', { body: dp })).status, 201);
  });
  after(async () => {
    clearInterval(slowloris);
    for (const s of sockets) s.destroy();
    await cp.stop();
  });

  function open(slow: boolean): Promise<void> {
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress: ATTACKER_ADDRESS });
      socket.on('connect', () => {
        sockets.add(socket);
        if (slow) socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
        resolve();
      });
      socket.on('error', () => resolve());
      socket.on('close', () => sockets.delete(socket));
      socket.resume();
    });
  }

  test(`${ATTACK_CONNECTIONS} idle and slowloris connections leave /healthz and certificate issuance working`, async () => {
    // The proxy's token is made before the attack (the attacker cannot stop an operator's earlier work).
    const token = (
      await httpCall(cp.baseUrl, 'POST', '/tokens/dataplane', { body: { name: 'web-1', mesh: 'default' } })
    ).body;
    for (let i = 0; i < ATTACK_CONNECTIONS; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => open((i + j) % 2 === 1)));
    }
    slowloris = setInterval(() => {
      for (const s of sockets) s.write(`X-Slow-${Math.random().toString(36).slice(2)}: 1\r\n`);
    }, 1_000);
    await new Promise((r) => setTimeout(r, 500)); // let the server's closes of refused sockets reach us
    console.log(`attacker holds ${sockets.size} of ${ATTACK_CONNECTIONS} connections`);
    assert.ok(sockets.size <= PER_ADDRESS, `the attacker holds ${sockets.size} connections`);

    const health = await httpCall(cp.baseUrl, 'GET', '/healthz');
    assert.equal(health.status, 200);
    const cert = await httpCall(cp.baseUrl, 'POST', '/meshes/default/dataplanes/web-1/certificate', {
      headers: { authorization: `Bearer ${token}` },
      body: {},
    });
    assert.equal(cert.status, 200, cert.body);
    assert.match(cert.json().certificate, /BEGIN CERTIFICATE/);
  });
});
