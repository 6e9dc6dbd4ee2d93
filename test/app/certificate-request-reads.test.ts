// What one certificate request from a dataplane costs the store, once the caches are warm: the Dataplane is read once
// (the token-tag check hands it to the handler), the Mesh is not read for existence, the acknowledged bundle is not
// looked up again. Each of these was a point read per certificate on the hot path of every fleet renewal.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SqlExecutor } from '../../src/store/sql.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const TABLES = /\b(resources|dataplane_facts|bundle_versions|bundle_version_backends)\b/;

describe('a dataplane certificate request reads the store only for what may have changed', () => {
  let t: TestApp;
  const statements: string[] = [];
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
    const driver = t.services.store.driver;
    const count = (exec: SqlExecutor): SqlExecutor => ({
      all: (sql, params) => (TABLES.test(sql) && statements.push(sql), exec.all(sql, params)),
      get: (sql, params) => (TABLES.test(sql) && statements.push(sql), exec.get(sql, params)),
      run: (sql, params) => (TABLES.test(sql) && statements.push(sql), exec.run(sql, params)),
    });
    const outside = count({ all: driver.all.bind(driver), get: driver.get.bind(driver), run: driver.run.bind(driver) });
    Object.assign(driver, outside);
    const transaction = driver.transaction.bind(driver);
    driver.transaction = (fn, locks) => transaction((exec) => fn(count(exec)), locks);
  });
  after(() => t.close());

  test('warm: the Dataplane once, facts first-contact probe, and the commit (mesh version, dataplane, issue, acknowledgement)', async () => {
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
    };
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default', payload: mesh })).statusCode, 200);
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
    };
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', payload: dp })).statusCode,
      201,
    );
    const token = await t.app.inject({
      method: 'POST',
      url: '/tokens/dataplane',
      payload: { mesh: 'default', name: 'web-1', tags: { 'kuma.io/service': ['web'] } },
    });
    const headers = { authorization: `Bearer ${token.body}` };
    const url = '/meshes/default/dataplanes/web-1/certificate';
    const first = await t.app.inject({ method: 'POST', url, headers, payload: {} });
    assert.equal(first.statusCode, 200, first.body);
    const payload = { bundleVersion: first.json().bundleVersion };
    assert.equal((await t.app.inject({ method: 'POST', url, headers, payload })).statusCode, 200); // caches warm

    statements.length = 0;
    const res = await t.app.inject({ method: 'POST', url, headers, payload });
    assert.equal(res.statusCode, 200, res.body);
    const seen = statements.map((sql) => sql.replace(/\s+/g, ' ').slice(0, 60));
    assert.equal(statements.length, 6, `statements:\n${seen.join('\n')}`);
    const overview = await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/web-1/_overview' });
    const mTLS = overview.json().dataplaneInsight.mTLS;
    assert.equal(mTLS.certificateRegenerations, 3, 'every issue was recorded');
    assert.deepEqual(mTLS.supportedBackends, ['ca-1'], 'the acknowledged bundle was recorded');
  });
});
