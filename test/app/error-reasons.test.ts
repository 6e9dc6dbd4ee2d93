// Errors that say why: what was wrong with a token (401), which token a dataplane route wants (403 off loopback),
// YAML sent as JSON, and a YAML body whose line breaks curl -d stripped. Every answer in the API's error format.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { rmSync } from 'node:fs';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/fake-clock.js';

const EXAMPLE_MESH = readFileSync(new URL('../../examples/0-mesh-ca-1.yaml', import.meta.url), 'utf8');
const EXAMPLE_DP = readFileSync(new URL('../../examples/dataplane-web-1.yaml', import.meta.url), 'utf8');
const OFF_LOOPBACK = { host: 'cp.example.com' };

let t: TestApp;
const clock = new FakeClock();

before(async () => {
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { clock });
  const put = await t.app.inject({
    method: 'PUT',
    url: '/meshes/default/dataplanes/web-1',
    headers: { 'content-type': 'application/yaml' },
    payload: EXAMPLE_DP,
  });
  assert.equal(put.statusCode, 201, put.body);
  const other = await t.app.inject({ method: 'PUT', url: '/meshes/other', payload: { type: 'Mesh', name: 'other' } });
  assert.equal(other.statusCode, 201, other.body);
});
after(async () => {
  await t.close();
  rmSync(t.dataDir, { recursive: true, force: true });
});

async function token(mesh: string, validFor = '1h'): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/tokens/dataplane',
    payload: { name: 'web-1', mesh, validFor },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.body;
}

/** A 401 in the error format; returns its detail. */
async function unauthenticated(authorization: string): Promise<string> {
  const res = await t.app.inject({
    method: 'GET',
    url: '/meshes/default/dataplanes/web-1',
    headers: { ...OFF_LOOPBACK, authorization },
  });
  assert.equal(res.statusCode, 401, res.body);
  const body = res.json();
  assert.deepEqual(
    [body.type, body.status, body.title, body.details],
    ['/std-errors', 401, 'Invalid authentication data', body.detail],
  );
  assert.ok(
    !body.detail.includes(authorization.replace(/^\S+\s+/, '')) || authorization.length < 8,
    'the token is never echoed',
  );
  return body.detail;
}

describe('a 401 says what was wrong with the token', () => {
  it('a token without the Bearer scheme, or no token after it', async () => {
    const jwt = await token('default');
    assert.equal(
      await unauthenticated(jwt),
      'Unauthenticated: the Authorization header has no "Bearer " scheme: send "Authorization: Bearer <token>"',
    );
    assert.equal(
      await unauthenticated(`Token ${jwt}`),
      'Unauthenticated: the Authorization header has no "Bearer " scheme: send "Authorization: Bearer <token>"',
    );
    assert.equal(
      await unauthenticated('Bearer '),
      'Unauthenticated: no token after "Bearer": send "Authorization: Bearer <token>"',
    );
  });

  it('garbage is neither the admin token nor a JWT', async () => {
    assert.equal(
      await unauthenticated('Bearer not-a-token-at-all'),
      'Unauthenticated: the token is neither the admin token nor a JWT (a dataplane token is three base64url parts separated by dots)',
    );
  });

  it('a bad signature: the token of another mesh re-labelled, or a signature cut', async () => {
    const jwt = await token('default');
    const [header, , signature] = jwt.split('.');
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, Name: 'web-1', Tags: { 'kuma.io/service': ['admin'] } })).toString('base64url')}.${signature}`;
    assert.equal(
      await unauthenticated(`Bearer ${forged}`),
      'Unauthenticated: bad token signature: it was not signed by the current signing key of mesh "default" (was the mesh recreated?): regenerate the token',
    );
    const otherMesh = await token('other');
    const [oh, op] = otherMesh.split('.');
    const relabelled = `${oh}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(op, 'base64url').toString()), Mesh: 'default' })).toString('base64url')}.${otherMesh.split('.')[2]}`;
    assert.match(await unauthenticated(`Bearer ${relabelled}`), /^Unauthenticated: bad token signature/);
  });

  it('an unknown mesh, in Kuma words (no signing key)', async () => {
    const jwt = await token('other');
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/meshes/other' })).statusCode, 200);
    assert.equal(
      await unauthenticated(`Bearer ${jwt}`),
      'Unauthenticated: there is no signing key with KID 1 in mesh "other" (the mesh does not exist or was recreated): regenerate the token',
    );
  });

  it('an expired token, once the clock passed its exp', async () => {
    const jwt = await token('default', '1m');
    const ok = await t.app.inject({
      method: 'GET',
      url: '/meshes/default/dataplanes/web-1',
      headers: { ...OFF_LOOPBACK, authorization: `Bearer ${jwt}` },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    await clock.advance(10 * 60_000);
    assert.equal(await unauthenticated(`Bearer ${jwt}`), 'Unauthenticated: token is expired: generate a new one');
  });

  it('a revoked token', async () => {
    const jwt = await token('default');
    const { jti } = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
    const revoke = await t.app.inject({
      method: 'PUT',
      url: '/meshes/default/secrets/dataplane-token-revocations-default',
      payload: {
        type: 'Secret',
        mesh: 'default',
        name: 'dataplane-token-revocations-default',
        data: Buffer.from(jti).toString('base64'),
      },
    });
    assert.equal(revoke.statusCode, 201, revoke.body);
    assert.equal(await unauthenticated(`Bearer ${jwt}`), 'Unauthenticated: token is revoked');
  });
});

describe('a dataplane route without a token, off loopback', () => {
  it('names the dataplane token as well as the admin token', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/meshes/default/dataplanes/web-1/certificate',
      headers: OFF_LOOPBACK,
      payload: {},
    });
    assert.equal(res.statusCode, 403);
    assert.equal(
      res.json().detail,
      'user "mesh-system:anonymous/mesh-system:unauthenticated" cannot access POST /meshes/:mesh/dataplanes/:name/certificate: an admin token ' +
        '(the control plane wrote it to <data dir>/admin-token; send it as "Authorization: Bearer <token>", e.g. meshctl --token-file <copy of admin-token>)' +
        " or the dataplane's own token (meshctl generate dataplane-token --name web-1 --mesh default; meshcp-dp --token-file <file>) is required",
    );
    const admin = await t.app.inject({ method: 'GET', url: '/meshes', headers: OFF_LOOPBACK });
    assert.doesNotMatch(admin.json().detail, /dataplane/, 'an admin route names only the admin token');
  });
});

describe('bodies in the wrong shape say how to send them', () => {
  const put = (payload: string, contentType: string) =>
    t.app.inject({
      method: 'PUT',
      url: '/meshes/default?dryRun=true',
      headers: { 'content-type': contentType },
      payload,
    });

  it('YAML sent as application/json', async () => {
    const res = await put(EXAMPLE_MESH, 'application/json');
    assert.equal(res.statusCode, 400);
    assert.deepEqual([res.json().title, res.json().status], ['Bad Request', 400]);
    assert.match(
      res.json().detail,
      /^invalid JSON: this looks like YAML: send Content-Type: application\/yaml; Unexpected token/,
    );
    const json = await put('{"type": "Mesh", "name": ', 'application/json');
    assert.doesNotMatch(json.json().detail, /YAML/, 'broken JSON is not called YAML');
  });

  it('YAML whose line breaks curl -d stripped', async () => {
    const stripped = EXAMPLE_MESH.replace(/\r?\n/g, '');
    const res = await put(stripped, 'application/yaml');
    assert.equal(res.statusCode, 400);
    assert.match(
      res.json().detail,
      /^invalid YAML: the body has no line breaks: curl -d strips them from a file, send it with --data-binary @file; /,
    );
    const asJson = await put(stripped, 'application/json');
    assert.match(
      asJson.json().detail,
      /^invalid JSON: this looks like YAML: send Content-Type: application\/yaml \(and the body has no line breaks: curl -d strips them from a file, send it with --data-binary @file\); /,
    );
    const fine = await put(EXAMPLE_MESH, 'application/yaml');
    assert.equal(fine.statusCode, 200, fine.body);
  });
});
