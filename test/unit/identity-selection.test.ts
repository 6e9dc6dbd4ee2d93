// Which MeshIdentity gives a Universal dataplane its identity, and the SPIFFE ID it renders (src/identity).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bestMatch, selects } from '../../src/identity/selection.js';
import { spiffeIdOf, trustDomainOf } from '../../src/identity/spiffe-id.js';
import type { MeshIdentitySpec } from '../../src/resources/mesh-identity.js';

const id = (name: string, selector: MeshIdentitySpec['selector']) => ({ name, spec: { selector } });

describe('selection by Dataplane labels', () => {
  const labels = { app: 'web', version: 'v1', 'kuma.io/zone': 'default' };
  it("selects as Kuma's code does: no selector or selector {} selects nothing, dataplane {} everything", () => {
    assert.equal(selects(id('a', undefined), labels), false);
    assert.equal(selects(id('a', {}), labels), false);
    assert.equal(selects(id('a', { dataplane: {} }), labels), true);
    assert.equal(selects(id('a', { dataplane: { matchLabels: {} } }), labels), true);
    assert.equal(selects(id('a', { dataplane: { matchLabels: { app: 'web' } } }), labels), true);
    assert.equal(selects(id('a', { dataplane: { matchLabels: { app: 'api' } } }), labels), false);
    assert.equal(selects(id('a', { dataplane: { matchLabels: { team: 'x' } } }), labels), false);
  });
  it('the most matchLabels win, ties go to the smallest name', () => {
    const all = id('all', { dataplane: {} });
    const web = id('web', { dataplane: { matchLabels: { app: 'web' } } });
    const webV1 = id('z-web-v1', { dataplane: { matchLabels: { app: 'web', version: 'v1' } } });
    const aWeb = id('a-web', { dataplane: { matchLabels: { app: 'web' } } });
    assert.equal(bestMatch([all, web, webV1, aWeb], labels)?.name, 'z-web-v1');
    assert.equal(bestMatch([all, web, aWeb], labels)?.name, 'a-web');
    assert.equal(bestMatch([all, web], { app: 'api' })?.name, 'all');
    assert.equal(bestMatch([web, id('none', {})], { app: 'api' }), undefined);
  });
});

describe('SPIFFE IDs', () => {
  const identity = (spec: MeshIdentitySpec, labels: Record<string, string> = {}) => ({
    name: 'identity',
    mesh: 'payments',
    labels,
    spec,
  });
  it("renders Kuma's Universal defaults", () => {
    const ident = identity({});
    const domain = trustDomainOf(ident, 'default');
    assert.deepEqual(domain, { ok: true, value: 'payments.default.mesh.local' });
    assert.deepEqual(spiffeIdOf(ident, 'payments.default.mesh.local', { 'kuma.io/workload': 'web' }), {
      ok: true,
      value: 'spiffe://payments.default.mesh.local/workload/web',
    });
    assert.deepEqual(
      trustDomainOf(identity({}, { 'kuma.io/zone': 'east' }), 'default'),
      { ok: true, value: 'payments.east.mesh.local' },
      "the identity's zone label",
    );
  });
  it('refuses a dataplane without kuma.io/workload when the path needs it, with a clear reason', () => {
    const result = spiffeIdOf(identity({}), 'td', { app: 'web' });
    assert.deepEqual(result, {
      ok: false,
      reason:
        "missing required label 'kuma.io/workload' - dataplane is selected by MeshIdentity 'identity' with path template '/workload/{{ .Workload }}'",
    });
    const viaLabel = spiffeIdOf(identity({ spiffeID: { path: '/w/{{ label "kuma.io/workload" }}' } }), 'td', {});
    assert.equal(viaLabel.ok, false);
  });
  it('templates with label and explicit values; invalid results are refused', () => {
    const custom = identity(
      { spiffeID: { trustDomain: '{{ label "org" }}.example', path: '/app/{{ label "app" }}' } },
      { org: 'acme' },
    );
    assert.deepEqual(trustDomainOf(custom, 'default'), { ok: true, value: 'acme.example' });
    assert.deepEqual(spiffeIdOf(custom, 'acme.example', { app: 'web' }), {
      ok: true,
      value: 'spiffe://acme.example/app/web',
    });
    const missing = spiffeIdOf(custom, 'acme.example', {});
    assert.equal(missing.ok, false);
    assert.match((missing as { reason: string }).reason, /label app not found/);
    assert.equal(trustDomainOf(identity({ spiffeID: { trustDomain: 'Upper.Case' } }), 'default').ok, false);
    assert.equal(spiffeIdOf(identity({ spiffeID: { path: '/a//b' } }), 'td', {}).ok, false);
  });
});
