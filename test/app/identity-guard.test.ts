// The cut-over from Mesh.mtls to MeshIdentity, step by step over REST with dataplanes that acknowledge bundles as
// the agent does: every premature step is refused (409, naming the dataplanes, Retry-After when waiting helps),
// ?dryRun answers as the real call and writes nothing, ?force=true passes and is logged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { buildDiagnosticsApp } from '../../src/api/diagnostics.js';
import { guiSnapshot } from '../../src/api/gui/gui-state.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

describe('the guard of the cut-over to MeshIdentity', () => {
  let t: TestApp;
  const tokens = new Map<string, string>();
  const logs: { event?: string; meshIdentity?: string; skippedRules?: string[] }[] = [];
  const call = async (
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    url: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await t.app.inject({
      method,
      url,
      headers,
      ...(payload === undefined ? {} : { payload: payload as string }),
    });
    const json =
      String(res.headers['content-type']).startsWith('application/json') && res.body
        ? (JSON.parse(res.body) as Record<string, unknown>)
        : {};
    return { status: res.statusCode, body: json, retryAfter: res.headers['retry-after'] };
  };
  const asDp = (
    name: string,
    method: 'GET' | 'POST',
    url: string,
    payload?: object,
    headers: Record<string, string> = {},
  ) => call(method, url, payload, { ...headers, authorization: `Bearer ${tokens.get(name)}` });
  const NAMES = ['api-1', 'web-1'];
  /** What the agent does after reloading its proxy: fetch the bundle, then say it holds it. */
  const acknowledge = async (name: string) => {
    const bundle = await asDp(name, 'GET', `/meshes/default/dataplanes/${name}/trust-bundle`);
    assert.equal(bundle.status, 200);
    const held = await asDp(name, 'GET', `/meshes/default/dataplanes/${name}/trust-bundle`, undefined, {
      'if-none-match': `"${bundle.body.bundleVersion as string}"`,
    });
    assert.equal(held.status, 304);
  };
  const issue = async (name: string) => {
    const res = await asDp(name, 'POST', `/meshes/default/dataplanes/${name}/certificate`, {});
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.issuedBackend as string;
  };
  const identity = (name: string, selector: unknown, extra: Record<string, unknown> = {}) => ({
    type: 'MeshIdentity',
    name,
    spec: {
      selector,
      provider: { type: 'Bundled', bundled: { insecureAllowSelfSigned: true, autogenerate: { enabled: true } } },
      ...extra,
    },
  });
  const reasons = (body: Record<string, unknown>) =>
    (body.invalid_parameters as { field: string; reason: string }[]).map((p) => `${p.field}: ${p.reason}`).join('\n');
  const legacyMesh = {
    type: 'Mesh',
    name: 'default',
    mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
  };

  before(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean))
          logs.push(JSON.parse(line) as (typeof logs)[number]);
        done();
      },
    });
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { logTo: sink });
    assert.equal((await call('PUT', '/meshes/default', legacyMesh)).status, 200);
    for (const name of NAMES) {
      const app = name.replace(/-\d+$/, '');
      const dp = {
        type: 'Dataplane',
        mesh: 'default',
        name,
        labels: { 'kuma.io/workload': app, app },
        networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': app } }] },
      };
      assert.equal((await call('PUT', `/meshes/default/dataplanes/${name}`, dp)).status, 201);
      tokens.set(
        name,
        (await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name, mesh: 'default' } })).body,
      );
      assert.equal(await issue(name), 'ca-1');
      await acknowledge(name);
    }
  });
  after(async () => {
    await t.close();
  });

  it('walks the cut-over, refusing every premature step', async () => {
    // 1. An identity cannot select dataplanes whose peers do not trust its CA yet; a dry run says the same.
    for (const query of ['?dryRun=true', '']) {
      const refused = await call(
        'PUT',
        `/meshes/default/meshidentities/new-id${query}`,
        identity('new-id', { dataplane: {} }),
      );
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.retryAfter, '5', 'waiting helps');
      assert.match(
        reasons(refused.body),
        /MeshIdentity "new-id" cannot select 2 active dataplanes yet \(api-1, web-1\): 2 active dataplanes do not trust its CA yet/,
      );
    }
    assert.equal((await call('GET', '/meshes/default/meshidentities/new-id')).status, 404, 'nothing written');
    assert.equal((await call('GET', '/meshes/default/meshtrusts/new-id')).status, 404);

    // 2. Selecting nothing first: its MeshTrust reaches the bundle (with the legacy roots, the bridge).
    assert.equal((await call('PUT', '/meshes/default/meshidentities/new-id', identity('new-id', {}))).status, 201);
    assert.equal(
      (await call('PUT', '/meshes/default/meshidentities/new-id', identity('new-id', { dataplane: {} }))).status,
      409,
      'not acknowledged yet',
    );
    await acknowledge('web-1');
    const onlyApi = await call('PUT', '/meshes/default/meshidentities/new-id', identity('new-id', { dataplane: {} }));
    assert.match(
      reasons(onlyApi.body),
      /1 active dataplane does not trust its CA yet \(no acknowledged trust bundle with it\): api-1/,
    );
    await acknowledge('api-1');

    // 3. Expanding now passes (a dry run first writes nothing).
    assert.equal(
      (await call('PUT', '/meshes/default/meshidentities/new-id?dryRun=true', identity('new-id', { dataplane: {} })))
        .status,
      200,
    );
    assert.deepEqual(
      ((await call('GET', '/meshes/default/meshidentities/new-id')).body.spec as { selector: unknown }).selector,
      {},
    );
    assert.equal(
      (await call('PUT', '/meshes/default/meshidentities/new-id', identity('new-id', { dataplane: {} }))).status,
      200,
    );

    // 4. Rule 4: a non-Ready identity that would now win them is refused (the name tie-break makes "a-bad" win).
    const notReady = await call('PUT', '/meshes/default/meshidentities/a-bad', {
      type: 'MeshIdentity',
      name: 'a-bad',
      spec: {
        selector: { dataplane: {} },
        provider: { type: 'Bundled', bundled: { autogenerate: { enabled: true } } },
      },
    });
    assert.equal(notReady.status, 409);
    assert.equal(notReady.retryAfter, undefined, 'waiting does not help');
    assert.match(
      reasons(notReady.body),
      /MeshIdentity "a-bad" would win 2 active dataplanes but is not Ready \(self-signed certificates are not allowed\)/,
    );

    // 5. Rule 3: mTLS stays on while dataplanes hold legacy certificates.
    const early = await call('PUT', '/meshes/default', { type: 'Mesh', name: 'default' });
    assert.equal(early.status, 409);
    assert.match(
      reasons(early.body),
      /cannot disable mTLS yet: 2 active dataplanes still hold a certificate from the Mesh.mtls backend "ca-1": api-1, web-1/,
    );
    const status = async () =>
      (await call('GET', '/meshes/default/ca-rotation')).body as {
        identities: Record<string, unknown>[];
        cutOver: Record<string, unknown>;
      };
    const midway = await status();
    assert.deepEqual(
      midway.cutOver,
      { legacyCertificates: 2, withoutReadyIdentity: 0, mtlsRemovable: false },
      'the status page shows the cut-over',
    );
    assert.deepEqual(
      midway.identities.find((i) => i.name === 'new-id'),
      {
        name: 'new-id',
        kri: 'kri_mid_default_default__new-id_',
        ready: true,
        dataplanesSelected: 2,
        dataplanesIssued: 0,
        dataplanesTrusting: 2,
      },
    );
    const gui = (await guiSnapshot(t.services, Date.now())).meshes.find((m) => m.name === 'default')!;
    assert.deepEqual(gui.identity?.cutOver, midway.cutOver, 'the /gui page shows the same');
    const diagnostics = await buildDiagnosticsApp(t.services);
    const metrics = (await diagnostics.inject({ method: 'GET', url: '/metrics' })).body;
    await diagnostics.close();
    for (const series of [
      'meshcp_meshidentity_ready{mesh="default",identity="new-id"} 1',
      'meshcp_meshidentity_dataplanes{mesh="default",identity="new-id",state="selected"} 2',
      'meshcp_meshidentity_dataplanes{mesh="default",identity="new-id",state="issued"} 0',
      'meshcp_meshidentity_dataplanes{mesh="default",identity="new-id",state="trusting"} 2',
      'meshcp_cutover_dataplanes{mesh="default",state="legacy"} 2',
      'meshcp_cutover_dataplanes{mesh="default",state="unidentified"} 0',
    ])
      assert.ok(metrics.split('\n').includes(series), `${series} in the metrics`);
    for (const name of NAMES) assert.equal(await issue(name), 'kri_mid_default_default__new-id_');
    assert.deepEqual((await status()).cutOver, { legacyCertificates: 0, withoutReadyIdentity: 0, mtlsRemovable: true });

    // 6. Rule 5: the SPIFFE ID templates never change in place.
    const moved = await call(
      'PUT',
      '/meshes/default/meshidentities/new-id',
      identity('new-id', { dataplane: {} }, { spiffeID: { trustDomain: 'elsewhere.example' } }),
    );
    assert.equal(moved.status, 409);
    assert.match(reasons(moved.body), /^spec.spiffeID.trustDomain: cannot change in place/);

    // 7. Rule 2: the trust of the CA in use stays.
    const trustGone = await call('DELETE', '/meshes/default/meshtrusts/new-id');
    assert.equal(trustGone.status, 409);
    assert.match(reasons(trustGone.body), /MeshIdentity "new-id" still issues from this CA/);
    assert.match(reasons(trustGone.body), /2 active dataplanes still hold a certificate from MeshIdentity "new-id"/);

    // 8. mTLS off, now that every dataplane moved.
    assert.equal((await call('PUT', '/meshes/default', { type: 'Mesh', name: 'default' })).status, 200);

    // 9. Rule 4 on delete: with mTLS off, removing the only identity would leave them with none. Forced: logged.
    const orphaning = await call('DELETE', '/meshes/default/meshidentities/new-id');
    assert.equal(orphaning.status, 409);
    assert.match(
      reasons(orphaning.body),
      /2 active dataplanes would be left with no identity \(mTLS is disabled in the mesh and no Ready MeshIdentity would select them\): api-1, web-1/,
    );
    assert.equal((await call('DELETE', '/meshes/default/meshidentities/new-id?force=true')).status, 200);
    const forced = logs.find((l) => l.event === 'force-used' && l.meshIdentity === 'new-id');
    assert.ok(forced, 'force=true is logged');
    assert.match(forced.skippedRules!.join('\n'), /would be left with no identity/);
  });
});
