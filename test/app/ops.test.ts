// The operator's view through the HTTP layer: Prometheus metrics computed from the real store, the event log's lines
// for each meaningful event (and none of the secrets), request lines at debug, request ids unique across listeners.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { buildDiagnosticsApp } from '../../src/api/diagnostics.js';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const builtin = (name: string) => ({ name, type: 'builtin' });
const mesh = (enabled: string, names: string[]) => ({
  type: 'Mesh',
  name: 'default',
  mtls: { enabledBackend: enabled, backends: names.map(builtin) },
});
const dataplane = (name: string) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: {
    address: '127.0.0.1',
    inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': 'web' } }],
  },
});

let t: TestApp;
const lines: Record<string, any>[] = [];
const raw: string[] = [];
const tokens = new Map<string, string>();

async function call(
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  url: string,
  payload?: object,
  headers: Record<string, string> = admin,
) {
  const res = await t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  return { status: res.statusCode, body: res.body, headers: res.headers };
}
const events = (event: string) => lines.filter((l) => l.event === event);
const asDataplane = (
  name: string,
  method: 'GET' | 'POST',
  url: string,
  payload?: object,
  headers: Record<string, string> = {},
) => call(method, url, payload, { ...headers, authorization: `Bearer ${tokens.get(name)}` });

before(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      raw.push(chunk.toString());
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { logTo: sink });
  assert.equal((await call('PUT', '/meshes/default', mesh('ca-1', ['ca-1']))).status, 200);
  for (const name of ['web-1', 'web-2']) {
    assert.equal((await call('PUT', `/meshes/default/dataplanes/${name}`, dataplane(name))).status, 201);
    const token = await call('POST', '/tokens/dataplane', { name, mesh: 'default' });
    tokens.set(name, token.body);
    assert.equal((await asDataplane(name, 'POST', `/meshes/default/dataplanes/${name}/certificate`, {})).status, 200);
  }
});
after(() => t.close());

describe('event log', () => {
  it('says what a mesh write meant, naming the rotation steps', async () => {
    assert.equal(events('mtls-enabled')[0].msg, 'mTLS enabled on mesh default with backend ca-1');
    assert.equal((await call('PUT', '/meshes/default', mesh('ca-1', ['ca-1', 'ca-2']))).status, 200);
    assert.equal(
      events('backend-added')[0].msg,
      'rotation step 1: backend ca-2 added to mesh default (dataplanes start trusting it)',
    );
    assert.equal(events('backend-added')[0].level, 30, 'info');
    assert.deepEqual(events('backend-added').length, 1);
  });

  it('a refused step names the rule, the count and the first dataplanes', async () => {
    const refused = await call('PUT', '/meshes/default', mesh('ca-2', ['ca-1', 'ca-2']));
    assert.equal(refused.status, 409);
    const [line] = events('rotation-step-refused');
    assert.equal(line.step, 'enable ca-2');
    assert.match(line.msg, /^rotation step "enable ca-2" on mesh default refused: .*2 active dataplanes.*web-1, web-2/);
    assert.equal(line.rules.length, 1);
    assert.equal(events('backend-enabled').length, 0, 'nothing changed');
  });

  it('force=true is a warning; enabling and removing are steps 2 and 3', async () => {
    assert.equal((await call('PUT', '/meshes/default?force=true', mesh('ca-2', ['ca-1', 'ca-2']))).status, 200);
    const [force] = events('force-used');
    assert.equal(force.level, 40);
    assert.equal(force.msg, 'force=true: CA rotation rules skipped');
    assert.match(
      force.skippedRules[0],
      /^enable: cannot enable backend "ca-2" yet: 2 active dataplanes .*: web-1, web-2$/,
    );
    assert.equal(
      events('backend-enabled')[0].msg,
      'rotation step 2: backend ca-2 enabled on mesh default (dataplanes re-issue from it)',
    );
    assert.equal((await call('PUT', '/meshes/default?force=true', mesh('ca-2', ['ca-2']))).status, 200);
    assert.equal(events('backend-removed')[0].msg, 'rotation step 3: backend ca-1 removed from mesh default');
    // a dry run changes nothing and says nothing
    const before = lines.length;
    assert.equal((await call('PUT', '/meshes/other?dryRun=true', { type: 'Mesh', name: 'other' })).status, 201);
    assert.equal(lines.slice(before).filter((l) => l.event).length, 0);
    assert.equal((await call('PUT', '/meshes/other', { type: 'Mesh', name: 'other' })).status, 201);
    assert.equal(events('mesh-created').at(-1)!.msg, 'mesh other created');
    assert.equal((await call('DELETE', '/meshes/other')).status, 200);
    assert.equal(events('mesh-deleted')[0].msg, 'mesh other deleted');
  });

  it('tokens issued are logged without the token; dataplanes first seen once', () => {
    const issued = events('token-issued');
    assert.equal(issued.length, 2);
    assert.equal(issued[0].msg, 'dataplane token issued for web-1 in mesh default');
    for (const token of tokens.values()) assert.ok(!raw.join('').includes(token), 'a token reached the log');
    assert.deepEqual(
      events('dataplane-first-seen').map((l) => l.dataplane),
      ['web-1', 'web-2'],
    );
  });

  it('request lines are at debug, with ids unique across the HTTP and HTTPS listeners', async () => {
    assert.equal(lines.filter((l) => l.msg === 'request').length, 0, 'no request lines at info');
    const { requestIdGenerator } = await import('../../src/api/request-ids.js');
    const http = requestIdGenerator('http');
    const https = requestIdGenerator('https');
    const ids = new Set<string>();
    for (let i = 0; i < 100; i++) ids.add(http()).add(https());
    assert.equal(ids.size, 200, 'Fastify numbers req-1, req-2... per listener; these never collide');
    assert.match(http(), /^http-[0-9a-f]{6}-[0-9a-z]+$/);
  });

  it('MESHCP_LOG_REQUESTS=true puts one request line per request at info, with the listener in its id', async () => {
    const seen: Record<string, any>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) seen.push(JSON.parse(line));
        done();
      },
    });
    const other = await createTestApp(
      { MESHCP_LOG_REQUESTS: 'true', MESHCP_SIGNING_WORKERS: '0' },
      { logTo: sink, defaultMesh: false },
    );
    try {
      await other.app.inject({ method: 'GET', url: '/meshes?size=1', headers: admin });
      const request = seen.filter((l) => l.msg === 'request');
      assert.equal(request.length, 1);
      assert.deepEqual(
        { method: request[0].method, url: request[0].url, status: request[0].status },
        { method: 'GET', url: '/meshes', status: 200 },
      );
      assert.match(request[0].reqId, /^http-[0-9a-f]{6}-1$/);
    } finally {
      await other.close();
    }
  });
});

describe('metrics', () => {
  it('serves the documented series at /metrics, computed from the store', async () => {
    // a stranger's certificate request for a mesh that does not exist: counted under "unknown", not a new series
    assert.equal(
      (await call('POST', '/meshes/nope/dataplanes/x/certificate', {}, { authorization: 'Bearer junk' })).status,
      401,
    );
    const diagnostics = await buildDiagnosticsApp(t.services);
    const res = await diagnostics.inject({ method: 'GET', url: '/metrics' });
    await diagnostics.close();
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      assert.ok(line, `no ${series} in\n${text.slice(0, 3000)}`);
      return Number(line.slice(series.length + 1));
    };
    assert.equal(value('meshcp_active_dataplanes{mesh="default"}'), 2);
    assert.equal(value('meshcp_certificates_issued_total{mesh="default",backend="ca-1"}'), 2);
    assert.equal(value('meshcp_certificate_requests_rejected_total{mesh="unknown",reason="unauthenticated"}'), 1);
    const notAfter = value('meshcp_ca_not_after_timestamp_seconds{mesh="default",backend="ca-2",type="builtin"}');
    assert.ok(notAfter > Date.now() / 1000 + 300 * 86400, String(notAfter));
    assert.equal(value('meshcp_rotation_dataplanes{mesh="default",backend="ca-2",state="issued"}'), 0);
    assert.equal(value('meshcp_trust_bundle_long_polls'), 0);
    assert.equal(value('meshcp_fleet_lane_queued'), 0);
    assert.ok(
      value('meshcp_http_request_duration_seconds_count{method="PUT",route="/meshes/:name",status="200"}') >= 1,
    );
    assert.match(text, /^process_cpu_user_seconds_total /m, "Node's default process metrics");
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    assert.doesNotMatch(text, /web-1/, 'no per-dataplane series');
  });
});
