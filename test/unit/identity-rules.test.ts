// The guard of the new model as pure rules (src/rotation/identity-rules.ts): which writes move an active dataplane,
// and to what.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  identityWriteViolations,
  mtlsOffViolations,
  spiffeIdChangeViolations,
  trustRemovalViolations,
  type IdentityFleet,
  type IdentityView,
} from '../../src/rotation/identity-rules.js';

const view = (name: string, over: Partial<IdentityView> = {}): IdentityView => ({
  name,
  matchLabels: {},
  selectsNothing: false,
  ready: true,
  kri: `kri_mid_default_default__${name}_`,
  ca: { fingerprint: `fp-${name}`, trustedAs: { name: `meshtrust/${name}/x`, fingerprint: `fp-${name}` } },
  ...over,
});
const dps = [
  { name: 'web-1', labels: { app: 'web' }, issuedBackend: 'ca-1' },
  { name: 'api-1', labels: { app: 'api' }, issuedBackend: 'ca-1' },
];
/** A fleet where `trusting` lists the CA fingerprints every dataplane acknowledged, `issued` who holds what. */
const fleet = (trusting: string[], issued: Record<string, string[]> = {}): IdentityFleet => ({
  notTrusting: async (_backend, fingerprint) =>
    trusting.includes(fingerprint) ? { count: 0, names: [] } : { count: 2, names: ['api-1', 'web-1'] },
  issuedBy: async (backend) => ({ count: issued[backend]?.length ?? 0, names: issued[backend] ?? [] }),
});
const rules = (violations: { rule: string; retryable: boolean }[]) => violations.map((v) => `${v.rule}:${v.retryable}`);

describe('identity writes (rules 1 and 4)', () => {
  it('selecting nothing, or moving nobody, passes', async () => {
    assert.deepEqual(
      await identityWriteViolations([], [view('a', { selectsNothing: true })], dps, true, fleet([])),
      [],
    );
    assert.deepEqual(
      await identityWriteViolations([view('a')], [view('a')], dps, true, fleet([])),
      [],
      'same winner, same CA',
    );
  });
  it('moving dataplanes to an identity needs every active dataplane to trust its CA first (retryable)', async () => {
    assert.deepEqual(rules(await identityWriteViolations([], [view('a')], dps, true, fleet([]))), ['select:true']);
    assert.deepEqual(await identityWriteViolations([], [view('a')], dps, true, fleet(['fp-a'])), []);
  });
  it('a new CA under the same identity is a move too', async () => {
    const rotated = view('a', {
      ca: { fingerprint: 'fp-a2', trustedAs: { name: 'meshtrust/a/y', fingerprint: 'fp-a2' } },
    });
    assert.deepEqual(rules(await identityWriteViolations([view('a')], [rotated], dps, false, fleet(['fp-a']))), [
      'select:true',
    ]);
  });
  it('no MeshTrust holding the CA: refused, waiting does not help', async () => {
    assert.deepEqual(
      rules(
        await identityWriteViolations([], [view('a', { ca: { fingerprint: 'fp-a' } })], dps, true, fleet(['fp-a'])),
      ),
      ['select:false'],
    );
  });
  it('a non-Ready winner (by the name tie-break) is refused; back to Mesh.mtls is fine; to nothing with mTLS off is refused', async () => {
    const notReady = view('0-bad', { ready: false, reason: 'self-signed certificates are not allowed' });
    const refused = await identityWriteViolations([view('a')], [view('a'), notReady], dps, true, fleet(['fp-a']));
    assert.deepEqual(rules(refused), ['winner:false']);
    assert.match(
      refused[0]!.message,
      /MeshIdentity "0-bad" would win 2 active dataplanes but is not Ready \(self-signed certificates are not allowed\)/,
    );
    assert.deepEqual(
      await identityWriteViolations([view('a')], [], dps, true, fleet([])),
      [],
      'deleted with mTLS on: legacy again',
    );
    assert.deepEqual(rules(await identityWriteViolations([view('a')], [], dps, false, fleet([]))), ['winner:false']);
    assert.deepEqual(
      await identityWriteViolations([notReady], [], dps, true, fleet([])),
      [],
      'a non-Ready winner issued nothing: nobody moves',
    );
  });
  it('the more specific selector wins and only its dataplanes move', async () => {
    const web = view('web', { matchLabels: { app: 'web' } });
    const violations = await identityWriteViolations([view('a')], [view('a'), web], dps, true, fleet(['fp-a']));
    assert.equal(violations.length, 1);
    assert.match(violations[0]!.message, /MeshIdentity "web" cannot select 1 active dataplane yet \(web-1\)/);
  });
  it('a dataplane the winner cannot give a SPIFFE ID is named', async () => {
    const strict = view('a', {
      spiffeProblem: (labels) => (labels['kuma.io/workload'] ? undefined : "missing required label 'kuma.io/workload'"),
    });
    assert.deepEqual(rules(await identityWriteViolations([], [strict], dps, true, fleet(['fp-a']))), [
      'spiffe-id:false',
    ]);
  });
});

describe('rules 2, 3 and 5', () => {
  it('SPIFFE ID templates never change in place', () => {
    assert.deepEqual(spiffeIdChangeViolations({ trustDomain: 'a' }, { trustDomain: 'a' }), []);
    assert.deepEqual(
      spiffeIdChangeViolations(undefined, { path: '/x' }).map((v) => v.field),
      ['spec.spiffeID.path'],
    );
  });
  it('a CA leaves the trusts only when no identity issues from it and no active dataplane holds its certificates', async () => {
    const a = { ...view('a'), selectsAny: true };
    assert.deepEqual(rules(await trustRemovalViolations(['fp-a'], [a], fleet([], { [a.kri]: ['web-1'] }), 'name')), [
      'trust:false',
      'trust:true',
    ]);
    assert.deepEqual(await trustRemovalViolations(['fp-other'], [a], fleet([]), 'name'), []);
    assert.deepEqual(await trustRemovalViolations(['fp-a'], [{ ...a, selectsAny: false }], fleet([]), 'name'), []);
  });
  it('Mesh.mtls goes only when every active dataplane has a Ready identity and none holds a legacy certificate', async () => {
    assert.deepEqual(rules(await mtlsOffViolations([], dps, ['ca-1'], fleet([], { 'ca-1': ['api-1', 'web-1'] }))), [
      'mtls-off:false',
      'mtls-off:false',
    ]);
    assert.deepEqual(rules(await mtlsOffViolations([view('a')], dps, ['ca-1'], fleet([], { 'ca-1': ['api-1'] }))), [
      'mtls-off:true',
    ]);
    assert.deepEqual(await mtlsOffViolations([view('a')], dps, ['ca-1'], fleet([])), []);
  });
});
