// The shared client's failover between control-plane instances, on real sockets: a refused port, a black hole that
// never answers, an instance answering 503, one that resets after reading the request, and a live control plane
// (the real app on SQLite) behind relays that count what reaches it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { AddressList, parseAddressList, type AddressSwitch } from '../../src/client/addresses.js';
import { ApiCallError, ApiClient, ConnectionError } from '../../src/client/http.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import {
  answeringWith,
  blackHole,
  Relay,
  refusedAddress,
  resettingAfterRequest,
} from '../helpers/failing-instances.js';
import { listenOnLoopback } from '../helpers/listen.js';

let t: TestApp;
let live: string;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  live = await listenOnLoopback(t.app);
});

after(async () => {
  await Promise.all(closers.map((close) => close()));
  await t?.close();
  if (t) rmSync(t.dataDir, { recursive: true, force: true });
});

/** Closed after the tests, even when an assertion fails half-way (an open server would keep the run alive). */
async function track<T extends { close(): Promise<void> }>(instance: Promise<T>): Promise<T> {
  const started = await instance;
  closers.push(() => started.close());
  return started;
}

/** A relay to the live control plane, counting the connections that reach it. */
const liveRelay = () => track(new Relay(live).listen());

function client(addresses: string[], timeoutMs = 10_000) {
  const switches: AddressSwitch[] = [];
  const answeredBy: string[] = [];
  const api = new ApiClient({
    address: new AddressList(addresses, (s) => switches.push(s)),
    timeoutMs,
    onAnswer: (a) => answeredBy.push(a),
  });
  return { api, switches, answeredBy };
}

describe('address list', () => {
  test('parsed from comma-separated and repeated values, normalized, each once', () => {
    assert.deepEqual(parseAddressList(['a:1, http://b:2/', 'https://c:3,a:1']), [
      'http://a:1',
      'http://b:2',
      'https://c:3',
    ]);
    assert.throws(() => parseAddressList(', '), /no control-plane address/);
    assert.throws(() => parseAddressList('ftp://x'), /http:\/\/ or https:\/\//);
  });

  test('advance moves on once per failure of the current address, wraps around, and reports each move', () => {
    const moves: AddressSwitch[] = [];
    const list = new AddressList(['a', 'b', 'c'], (m) => moves.push(m));
    assert.equal(list.current, 'a');
    list.advance('a', 'ECONNREFUSED');
    list.advance('a', 'ECONNREFUSED'); // a second request that failed on a: already moved on, b is not skipped
    assert.equal(list.current, 'b');
    list.advance('b', 'HTTP 503');
    list.advance('c', 'no answer within 10 ms');
    assert.equal(list.current, 'a');
    assert.deepEqual(moves, [
      { from: 'a', to: 'b', reason: 'ECONNREFUSED' },
      { from: 'b', to: 'c', reason: 'HTTP 503' },
      { from: 'c', to: 'a', reason: 'no answer within 10 ms' },
    ]);
    const one = new AddressList(['only'], () => assert.fail('nowhere to move'));
    one.advance('only', 'ECONNREFUSED');
    assert.equal(one.current, 'only');
  });
});

describe('failover of the shared client', () => {
  test('a refused address first: the request is answered by the next one, which stays current', async () => {
    const relay = await liveRelay();
    const dead = await refusedAddress();
    const { api, switches, answeredBy } = client([dead, relay.address]);
    const meshes = await api.listAll<{ name: string }>('/meshes');
    assert.deepEqual(
      meshes.map((m) => m.name),
      ['default'],
    );
    await api.getJson('/meshes/default');
    assert.equal(api.address, relay.address);
    assert.deepEqual(switches, [{ from: dead, to: relay.address, reason: 'ECONNREFUSED' }]);
    assert.deepEqual(answeredBy, [relay.address, relay.address]);
  });

  test('a black hole first: left after the per-request bound, and not dialled again', async () => {
    const hole = await track(blackHole());
    const relay = await liveRelay();
    const { api, switches } = client([hole.address, relay.address], 300);
    const started = Date.now();
    await api.getJson('/meshes/default');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 3000, `failed over after ${elapsed} ms`);
    assert.deepEqual(switches, [{ from: hole.address, to: relay.address, reason: 'no answer within 300 ms' }]);
    await api.getJson('/meshes/default');
    assert.equal(hole.connections, 1, 'no flapping back to the black hole');
  });

  test('503 (an instance without its database) and 502/504 move on; the answer of the next one is returned', async () => {
    const relay = await liveRelay();
    const unavailable = await track(answeringWith(503));
    const gateway = await track(answeringWith(504));
    const { api, switches } = client([unavailable.address, gateway.address, relay.address]);
    const response = await api.call('PUT', '/meshes/failover-put', { body: { type: 'Mesh', name: 'failover-put' } });
    assert.equal(response.status, 201);
    assert.deepEqual(
      switches.map((s) => s.reason),
      ['HTTP 503', 'HTTP 504'],
    );
    assert.deepEqual(
      [unavailable.requests, gateway.requests],
      [['PUT /meshes/failover-put'], ['PUT /meshes/failover-put']],
    );
  });

  test('every address down: one error naming each, and the list is back at its first address for the next try', async () => {
    const [a, b] = [await refusedAddress(), await refusedAddress()];
    const { api } = client([a, b]);
    await assert.rejects(api.getJson('/meshes'), (err: unknown) => {
      assert.ok(err instanceof ConnectionError);
      assert.equal(err.message, `no control plane answered (${a}: ECONNREFUSED; ${b}: ECONNREFUSED)`);
      assert.deepEqual([err.code, err.reachedServer, err.tried.length], ['ECONNREFUSED', false, 2]);
      return true;
    });
    assert.equal(api.address, a);
    // One address only: the message is as it always was.
    await assert.rejects(client([a]).api.getJson('/meshes'), {
      message: `cannot reach the control plane at ${a}: ECONNREFUSED`,
    });
  });

  test('a PUT whose connection was reset after the request was sent is sent again to the next instance', async () => {
    const resetting = await track(resettingAfterRequest());
    const relay = await liveRelay();
    const { api, switches } = client([resetting.address, relay.address]);
    const response = await api.put('/meshes/failover-reset', { type: 'Mesh', name: 'failover-reset' });
    assert.equal(response.status, 201);
    assert.equal(resetting.requests, 1);
    assert.deepEqual(
      switches.map((s) => s.reason),
      ['ECONNRESET'],
    );
  });

  test('a POST is sent again only when it never reached an instance (refused)', async () => {
    const body = { name: 'web-1', mesh: 'default' };
    // refused: provably never sent, so the next instance gets it
    const relay = await liveRelay();
    const refused = client([await refusedAddress(), relay.address]);
    const token = await refused.api.call('POST', '/tokens/dataplane', { body });
    assert.match(token.text, /^ey/);

    // Each case below gets a relay of its own, never dialled before: a kept-alive connection cannot hide a re-send.
    // reset after the request was read: the instance may have signed a token, so it is not sent again ...
    const resetting = await track(resettingAfterRequest());
    const afterReset = await liveRelay();
    const reset = client([resetting.address, afterReset.address]);
    await assert.rejects(reset.api.call('POST', '/tokens/dataplane', { body }), {
      name: 'ConnectionError',
      message: /ECONNRESET/,
    });
    assert.equal(afterReset.connections, 0, 'the POST was not re-sent');
    // ... but the instance is left: the next request (the user re-running the command in-process) goes to the live one
    assert.equal(reset.api.address, afterReset.address);
    assert.equal((await reset.api.call('POST', '/tokens/dataplane', { body })).status, 200);

    // a black hole: the same (it may act on the request later)
    const hole = await track(blackHole());
    const afterHole = await liveRelay();
    const silent = client([hole.address, afterHole.address], 200);
    await assert.rejects(silent.api.call('POST', '/tokens/dataplane', { body }), {
      message: /no answer within 200 ms/,
    });
    assert.equal(afterHole.connections, 0);

    // a 503: the instance answered; a POST is not re-sent after any 5xx (a load balancer's 502/504 may follow a
    // request its upstream got)
    const unavailable = await track(answeringWith(503));
    const after503 = await liveRelay();
    const refusedByDb = client([unavailable.address, after503.address]);
    await assert.rejects(
      refusedByDb.api.call('POST', '/tokens/dataplane', { body }),
      (err: unknown) => err instanceof ApiCallError && err.status === 503,
    );
    assert.equal(after503.connections, 0);
    assert.equal(refusedByDb.api.address, after503.address);
  });
});
