import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../helpers/app.js';

/** Kuma-exact answers a script would notice: no silently dropped field, body checked before the URL, tags as URIs. */
describe('strict manifests over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    const mesh =
      'type: Mesh\nname: default\nmtls:\n  enabledBackend: ca-1\n  backends:\n  - name: ca-1\n    type: builtin\n';
    const res = await t.app.inject({
      method: 'PUT',
      url: '/meshes/default',
      payload: mesh,
      headers: { 'content-type': 'application/yaml' },
    });
    assert.ok([200, 201].includes(res.statusCode), res.body);
  });
  after(() => t.close());

  const put = (url: string, payload: string, type = 'application/yaml') =>
    t.app.inject({ method: 'PUT', url, payload, headers: { 'content-type': type } });

  it('a YAML typo `mtsl:` is a 400 naming the field, and mTLS stays on', async () => {
    const res = await put('/meshes/default', 'type: Mesh\nname: default\nmtsl:\n  enabledBackend: ""\n');
    assert.equal(res.statusCode, 400, res.body);
    assert.deepEqual(res.json().invalid_parameters, [{ field: 'mtsl', reason: 'unknown field "mtsl"' }]);
    const mesh = (await t.app.inject({ method: 'GET', url: '/meshes/default' })).json();
    assert.equal(mesh.mtls.enabledBackend, 'ca-1');
  });

  it('an unknown field deep in a JSON Dataplane or a Secret is refused with its path', async () => {
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: { address: '10.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web' }, servicePrt: 2 }] },
    };
    const res = await put('/meshes/default/dataplanes/web-1', JSON.stringify(dp), 'application/json');
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json().invalid_parameters, [
      { field: 'networking.inbound[0].servicePrt', reason: 'unknown field "servicePrt"' },
    ]);
    const secret = await put(
      '/meshes/default/secrets/s1',
      JSON.stringify({ type: 'Secret', mesh: 'default', name: 's1', date: 'YQ==' }),
      'application/json',
    );
    assert.equal(secret.statusCode, 400);
    assert.deepEqual(secret.json().invalid_parameters, [{ field: 'date', reason: 'unknown field "date"' }]);
  });

  it('a null tag value is refused as Kuma does, not dropped', async () => {
    const res = await put(
      '/meshes/default/dataplanes/web-1',
      'type: Dataplane\nmesh: default\nname: web-1\nnetworking:\n  address: 10.0.0.1\n  inbound:\n  - port: 1\n    tags:\n      kuma.io/service: web\n      version:\n',
    );
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json().invalid_parameters, [
      { field: 'networking.inbound[0].tags["version"]', reason: 'tag value must be non-empty' },
    ]);
  });

  it('a wrongly typed name gets the decoder answer Kuma gives', async () => {
    const res = await put(
      '/meshes/default/dataplanes/web-1',
      JSON.stringify({ type: 'Dataplane', mesh: 'default', name: 4 }),
      'application/json',
    );
    assert.equal(res.statusCode, 400);
    assert.equal(
      res.json().detail,
      'invalid Dataplane object: "json: cannot unmarshal number into Go struct field ResourceMeta.name of type string"',
    );
  });

  it('the body is validated first; a URL/body name mismatch is reported only for an otherwise valid body', async () => {
    const invalid = await put(
      '/meshes/default/dataplanes/web-1',
      JSON.stringify({ type: 'Dataplane', mesh: 'default', name: 'other', networking: { address: '0.0.0.0' } }),
      'application/json',
    );
    assert.deepEqual(invalid.json().invalid_parameters, [
      { field: 'networking.address', reason: 'must not be 0.0.0.0 or ::' },
    ]);
    const valid = await put(
      '/meshes/default/dataplanes/web-1',
      JSON.stringify({ type: 'Dataplane', mesh: 'default', name: 'other', networking: { address: '10.0.0.1' } }),
      'application/json',
    );
    assert.deepEqual(valid.json().invalid_parameters, [
      { field: 'name', reason: 'name from the URL has to be the same as in body' },
    ]);
  });

  it('outbound-only dataplanes and delegated gateways without tags are accepted, as in Kuma 2.14', async () => {
    const outboundOnly = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'client-1',
      networking: { address: '10.0.0.2', outbound: [{ port: 3333, tags: { 'kuma.io/service': 'redis' } }] },
    };
    assert.equal(
      (await put('/meshes/default/dataplanes/client-1', JSON.stringify(outboundOnly), 'application/json')).statusCode,
      201,
    );
    const gw = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'gw-1',
      networking: { address: '10.0.0.3', gateway: { type: 'DELEGATED', tags: {} } },
    };
    assert.equal(
      (await put('/meshes/default/dataplanes/gw-1', JSON.stringify(gw), 'application/json')).statusCode,
      201,
    );
  });

  it('tags that cannot become certificate URIs are refused on PUT with the parser reason', async () => {
    for (const [key, value, reason] of [
      ['team:x', 'a', 'invalid Kuma URI: parse "kuma://team:x/a": invalid port ":x" after host'],
      ['a..b', 'a', 'invalid Kuma URI: "kuma://a..b/a": invalid domain (empty label in "a..b")'],
    ] as const) {
      const dp = {
        type: 'Dataplane',
        mesh: 'default',
        name: 'web-2',
        networking: { address: '10.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web', [key]: value } }] },
      };
      const res = await put('/meshes/default/dataplanes/web-2', JSON.stringify(dp), 'application/json');
      assert.equal(res.statusCode, 400, key);
      assert.deepEqual(res.json().invalid_parameters, [
        { field: `networking.inbound[0].tags[${JSON.stringify(key)}]`, reason },
      ]);
    }
  });
});
