// MESHCP_CERT_PROFILE=spiffe: leaves a strict X.509-SVID verifier accepts (exactly one URI SAN), and Dataplanes that
// cannot have one SPIFFE ID refused with a 400. The default kuma profile keeps Kuma's SANs, which such a verifier refuses.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { spiffeIdProblem, verifyX509Svid } from '../helpers/x509-svid.js';
import { ConfigError, loadConfig } from '../../src/config.js';

const MESH = readFileSync(new URL('../../examples/0-mesh-ca-1.yaml', import.meta.url), 'utf8');
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

const dataplane = (name: string, ...services: string[]) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: {
    address: '127.0.0.1',
    inbound: services.map((service, i) => ({
      port: 20001 + i,
      servicePort: 8080 + i,
      tags: { 'kuma.io/service': service, version: 'v1' },
    })),
  },
});

async function appWith(profile?: string): Promise<TestApp> {
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0', ...(profile ? { MESHCP_CERT_PROFILE: profile } : {}) });
  const res = await t.app.inject({
    method: 'PUT',
    url: '/meshes/default',
    headers: { ...admin, 'content-type': 'application/yaml' },
    payload: MESH,
  });
  assert.equal(res.statusCode, 200);
  return t;
}

async function put(t: TestApp, body: ReturnType<typeof dataplane>) {
  const res = await t.app.inject({
    method: 'PUT',
    url: `/meshes/default/dataplanes/${body.name}`,
    headers: admin,
    payload: body,
  });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

async function issue(t: TestApp, name: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: `/meshes/default/dataplanes/${name}/certificate`,
    headers: admin,
    payload: {},
  });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'meshcp-profile-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('the SPIFFE ID rules of the verifier', () => {
  it('accepts workload IDs and refuses what the spec refuses', () => {
    assert.equal(spiffeIdProblem('spiffe://default/web_default_svc_8080'), undefined);
    for (const bad of [
      'SPIFFE://default/web',
      'spiffe://Default/web',
      'spiffe://default',
      'spiffe://default/',
      'spiffe://default/a//b',
      'spiffe://default/..',
      'spiffe://default/web?x=1',
      'spiffe://default:8080/web',
      'spiffe://u@default/web',
      'kuma://kuma.io/service/web',
    ]) {
      assert.ok(spiffeIdProblem(bad), bad);
    }
  });
});

describe('MESHCP_CERT_PROFILE', () => {
  it('is kuma by default, spiffe on request, and anything else stops the start', () => {
    assert.equal(loadConfig({}).certProfile, 'kuma');
    assert.equal(loadConfig({ MESHCP_CERT_PROFILE: 'spiffe' }).certProfile, 'spiffe');
    assert.throws(
      () => loadConfig({ MESHCP_CERT_PROFILE: 'SPIFFE' }),
      (err) => err instanceof ConfigError && /must be one of kuma, spiffe, got "SPIFFE"/.test(err.message),
    );
  });

  it("kuma: Kuma's three URI SANs, which a strict X.509-SVID verifier refuses", async () => {
    const t = await appWith();
    try {
      assert.equal((await put(t, dataplane('web-1', 'web'))).status, 201);
      const cert = (await issue(t, 'web-1')).body;
      assert.throws(
        () => verifyX509Svid(cert.certificate, cert.caBundle),
        /exactly one URI SAN, this one has 3: spiffe:\/\/default\/web, kuma:\/\/kuma.io\/service\/web, kuma:\/\/version\/v1/,
      );
      // Multi-service stays allowed, as in Kuma (a service that is no SPIFFE path segment is refused under both
      // profiles: Kuma refuses to issue for it; test/app/strict-manifests.test.ts).
      assert.equal((await put(t, dataplane('multi-1', 'web', 'api'))).status, 201);
    } finally {
      await t.close();
    }
  });

  it('spiffe: exactly one URI SAN, spiffe://<mesh>/<service>, accepted by the verifier and by openssl', async () => {
    const t = await appWith('spiffe');
    try {
      assert.equal((await put(t, dataplane('web-1', 'web_default_svc_8080'))).status, 201);
      const answer = await issue(t, 'web-1');
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(
        verifyX509Svid(answer.body.certificate, answer.body.caBundle),
        'spiffe://default/web_default_svc_8080',
      );
      writeFileSync(join(work, 'leaf.pem'), answer.body.certificate);
      writeFileSync(join(work, 'bundle.pem'), answer.body.caBundle);
      assert.match(
        execFileSync('openssl', ['verify', '-CAfile', join(work, 'bundle.pem'), join(work, 'leaf.pem')], {
          encoding: 'utf8',
        }),
        /: OK/,
      );
      // The trust bundle poll agrees that this certificate is the one to hold: no re-issue asked for.
      const poll = await t.app.inject({
        method: 'GET',
        url: '/meshes/default/dataplanes/web-1/trust-bundle',
        headers: admin,
      });
      assert.equal(JSON.parse(poll.body).reissue, false);
    } finally {
      await t.close();
    }
  });

  it('spiffe: a Dataplane PUT is refused (400) when its service is not a SPIFFE path segment or it has several services', async () => {
    const t = await appWith('spiffe');
    try {
      // Kuma's tag rules already refuse "/" and non-ASCII; ":" and dot segments pass them but are no SPIFFE path segment.
      for (const service of ['web:8080', 'web_svc:8080', '..', '.']) {
        const res = await put(t, dataplane('bad-1', service));
        assert.equal(res.status, 400, `${service}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.detail, 'Resource is not valid');
        const cause = res.body.causes.find(
          (c: { field: string }) => c.field === 'networking.inbound[0].tags["kuma.io/service"]',
        );
        assert.ok(cause, `${service}: ${JSON.stringify(res.body.causes)}`);
        assert.match(cause.message, /SPIFFE/);
      }
      const multi = await put(t, dataplane('multi-1', 'web', 'api'));
      assert.equal(multi.status, 400);
      assert.deepEqual(multi.body.causes, [
        {
          field: 'networking',
          message:
            'MESHCP_CERT_PROFILE=spiffe issues one SPIFFE ID per dataplane: the dataplane has 2 services (api, web), it may have only one',
        },
      ]);
      // Two inbounds of the same service are one SPIFFE ID.
      assert.equal((await put(t, dataplane('same-1', 'web', 'web'))).status, 201);
      const dry = await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/bad-1', headers: admin });
      assert.equal(dry.statusCode, 404, 'nothing was stored');
    } finally {
      await t.close();
    }
  });
});
