// A dataplane token that verified once is remembered (the RS256 check was half the main thread's time per
// certificate): a remembered token must still stop working the moment it expires, is revoked, its signing key is
// replaced or its mesh is deleted, and the memory stays bounded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signingKeySecretName } from '../../src/resources/backend-secrets.js';
import { revocationsSecretName } from '../../src/dataplanes/token-service.js';
import { VerifiedTokens } from '../../src/dataplanes/verified-tokens.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/fake-clock.js';

const dataplane = (mesh: string) => ({
  type: 'Dataplane',
  mesh,
  name: 'web-1',
  networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
});

describe('verified dataplane tokens are remembered, and forgotten when they stop being valid', () => {
  let t: TestApp;
  const clock = new FakeClock();
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { clock });
  });
  after(() => t.close());

  async function newMesh(mesh: string): Promise<void> {
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: `/meshes/${mesh}`, payload: { type: 'Mesh', name: mesh } }))
        .statusCode < 300,
      true,
    );
    const dp = await t.app.inject({ method: 'PUT', url: `/meshes/${mesh}/dataplanes/web-1`, payload: dataplane(mesh) });
    assert.equal(dp.statusCode, 201, dp.body);
  }

  async function token(mesh: string, validFor = '1h'): Promise<string> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/tokens/dataplane',
      payload: { name: 'web-1', mesh, validFor },
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.body;
  }

  const get = (mesh: string, token: string) =>
    t.app.inject({
      method: 'GET',
      url: `/meshes/${mesh}/dataplanes/web-1`,
      headers: { authorization: `Bearer ${token}` },
    });

  test('a token used twice is verified once; it expires on time all the same', async () => {
    await newMesh('expiry');
    const brief = await token('expiry', '10s');
    const before = t.services.tokens.verifiedTokens;
    assert.equal((await get('expiry', brief)).statusCode, 200);
    assert.equal(t.services.tokens.verifiedTokens, before + 1, 'the verified token is remembered');
    assert.equal((await get('expiry', brief)).statusCode, 200);
    assert.equal(t.services.tokens.verifiedTokens, before + 1, 'and not added twice');
    await clock.advance(16_000); // validFor plus the 5 s the token is backdated
    const expired = await get('expiry', brief);
    assert.equal(expired.statusCode, 401, 'a remembered token that has expired is refused');
    assert.equal(expired.json().title, 'Invalid authentication data');
  });

  test('revoking a remembered token refuses it at once; other tokens keep working', async () => {
    await newMesh('revoke');
    const [revoked, kept] = [await token('revoke'), await token('revoke')];
    assert.equal((await get('revoke', revoked)).statusCode, 200);
    assert.equal((await get('revoke', kept)).statusCode, 200);
    const jti = JSON.parse(Buffer.from(revoked.split('.')[1], 'base64url').toString()).jti as string;
    const name = revocationsSecretName('revoke');
    const put = await t.app.inject({
      method: 'PUT',
      url: `/meshes/revoke/secrets/${name}`,
      payload: { type: 'Secret', mesh: 'revoke', name, data: Buffer.from(jti).toString('base64') },
    });
    assert.equal(put.statusCode, 201, put.body);
    assert.equal((await get('revoke', revoked)).statusCode, 401);
    assert.equal((await get('revoke', kept)).statusCode, 200);
  });

  test('a new signing key refuses remembered tokens signed with the old one', async () => {
    await newMesh('rekey');
    const old = await token('rekey');
    assert.equal((await get('rekey', old)).statusCode, 200);
    const name = signingKeySecretName('rekey');
    const other = await t.app.inject({
      method: 'GET',
      url: `/meshes/expiry/secrets/${signingKeySecretName('expiry')}`,
    });
    assert.equal(other.statusCode, 200, other.body);
    const put = await t.app.inject({
      method: 'PUT',
      url: `/meshes/rekey/secrets/${name}`,
      payload: { type: 'Secret', mesh: 'rekey', name, data: other.json().data },
    });
    assert.ok(put.statusCode < 300, put.body);
    assert.equal((await get('rekey', old)).statusCode, 401);
    assert.equal((await get('rekey', await token('rekey'))).statusCode, 200, 'a token signed with the new key works');
  });

  test('a rotation step (a Mesh write that touches neither the signing key nor the revocations) keeps remembered tokens', async () => {
    await newMesh('rotate');
    const kept = await token('rotate');
    assert.equal((await get('rotate', kept)).statusCode, 200);
    const checks = t.services.tokens.signatureChecks;
    const backends = [
      { name: 'ca-1', type: 'builtin' },
      { name: 'ca-2', type: 'builtin' },
    ];
    const step1 = await t.app.inject({
      method: 'PUT',
      url: '/meshes/rotate',
      payload: { type: 'Mesh', name: 'rotate', mtls: { enabledBackend: 'ca-1', backends } },
    });
    assert.equal(step1.statusCode, 200, step1.body);
    assert.equal((await get('rotate', kept)).statusCode, 200);
    assert.equal(t.services.tokens.signatureChecks, checks, 'no signature check again after the step');
  });

  test('deleting the mesh forgets its tokens', async () => {
    await newMesh('gone');
    const before = await token('gone');
    assert.equal((await get('gone', before)).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/meshes/gone/dataplanes/web-1' })).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/meshes/gone' })).statusCode, 200);
    assert.equal((await get('gone', before)).statusCode, 401);
  });
});

describe('the verified-token memory', () => {
  const principal = (mesh: string, name: string) => ({ kind: 'dataplane' as const, mesh, name, tags: {}, jti: name });

  test('holds at most its bound, dropping the oldest first', () => {
    const cache = new VerifiedTokens(3);
    for (const name of ['a', 'b', 'c', 'd'])
      cache.remember(VerifiedTokens.keyOf(name), principal('m', name), 'keys-1', undefined, undefined);
    assert.equal(cache.size, 3);
    assert.equal(cache.get(VerifiedTokens.keyOf('a'), 0), undefined);
    assert.equal(cache.get(VerifiedTokens.keyOf('d'), 0)?.principal.name, 'd');
  });

  test('answers only within [nbf, exp) in whole seconds, as the signature check does', () => {
    const cache = new VerifiedTokens();
    const key = VerifiedTokens.keyOf('t');
    cache.remember(key, principal('m', 't'), 'keys-1', 100, 200);
    assert.equal(cache.get(key, 99_999), undefined, 'before nbf');
    cache.remember(key, principal('m', 't'), 'keys-1', 100, 200);
    assert.equal(cache.get(key, 100_000)?.principal.name, 't');
    assert.equal(cache.get(key, 199_999)?.principal.name, 't');
    assert.equal(cache.get(key, 200_000), undefined, 'at exp');
  });

  test('remembers the keys each token was checked against', () => {
    const cache = new VerifiedTokens();
    cache.remember('k1', principal('a', 'x'), 'keys-of-a', undefined, undefined);
    cache.remember('k2', principal('b', 'x'), 'keys-of-b', undefined, undefined);
    assert.equal(cache.get('k1', 0)?.keysFingerprint, 'keys-of-a');
    cache.forget('k1');
    assert.equal(cache.get('k1', 0), undefined);
    assert.equal(cache.get('k2', 0)?.keysFingerprint, 'keys-of-b');
  });
});
