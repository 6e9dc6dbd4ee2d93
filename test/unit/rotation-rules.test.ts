// Every CA rotation rule of api.md, each on its own, against the pure `evaluateRotation` with an in-memory fleet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalConfKey,
  evaluateRotation,
  type BackendView,
  type FleetFacts,
  type MtlsView,
  type RotationViolation,
} from '../../src/rotation/rules.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

const FP_CA1 = 'fp-ca-1';
const FP_CA2 = 'fp-ca-2';
const FP_CA2_OTHER = 'fp-ca-2-other-material';

const CA2_CONF = { cert: { secret: 'ca-2-cert' }, key: { secret: 'ca-2-key' } };

function builtin(
  name: string,
  conf: unknown = undefined,
  materialExists = true,
  fingerprint = `fp-${name}`,
): BackendView {
  return { name, type: 'builtin', confKey: canonicalConfKey('builtin', conf), fingerprint, materialExists };
}

function provided(name: string, conf: unknown = CA2_CONF, fingerprint = FP_CA2): BackendView {
  return { name, type: 'provided', confKey: canonicalConfKey('provided', conf), fingerprint, materialExists: true };
}

const mtls = (enabledBackend: string, ...backends: BackendView[]): MtlsView => ({ enabledBackend, backends });

// The guide's four states.
const step0 = () => mtls('ca-1', builtin('ca-1'));
const step1 = () => mtls('ca-1', builtin('ca-1'), provided('ca-2'));
const step2 = () => mtls('ca-2', builtin('ca-1'), provided('ca-2'));
const step3 = () => mtls('ca-2', provided('ca-2'));

interface FakeDataplane {
  name: string;
  issuedBackend: string;
  notAfter: number;
  /** backend -> root fingerprint of the acknowledged bundle */
  trusts: Record<string, string>;
}

/** The same questions the facts store answers, over an array: active = notAfter in the future; names sorted, 10 max. */
class Fleet implements FleetFacts {
  constructor(readonly dataplanes: FakeDataplane[] = []) {}

  add(name: string, issuedBackend: string, trusts: Record<string, string>, notAfter = NOW + HOUR): this {
    this.dataplanes.push({ name, issuedBackend, trusts, notAfter });
    return this;
  }

  private sample(match: (dp: FakeDataplane) => boolean) {
    const names = this.dataplanes
      .filter((dp) => dp.notAfter > NOW && match(dp))
      .map((dp) => dp.name)
      .sort();
    return { count: names.length, names: names.slice(0, 10) };
  }

  notTrusting(backend: string, fingerprint: string) {
    return this.sample((dp) => dp.trusts[backend] !== fingerprint);
  }

  issuedBy(backend: string) {
    return this.sample((dp) => dp.issuedBackend === backend);
  }
}

const trustsBoth = { 'ca-1': FP_CA1, 'ca-2': FP_CA2 };
const trustsCa1 = { 'ca-1': FP_CA1 };

function only(violations: RotationViolation[], rule: RotationViolation['rule']): RotationViolation {
  assert.equal(violations.length, 1, `expected exactly one violation, got ${JSON.stringify(violations)}`);
  assert.equal(violations[0].rule, rule);
  return violations[0];
}

describe('creating a mesh is never a rotation step', () => {
  it('passes whatever it enables and whatever the fleet holds', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', {});
    assert.deepEqual(await evaluateRotation(undefined, step2(), fleet), []);
    assert.deepEqual(await evaluateRotation(undefined, mtls('ca-9', provided('ca-9')), fleet), []);
  });
});

describe('rule 1: enable only a backend stored earlier with the same type and conf', () => {
  it('refuses enabling a backend that is added in the same update', async () => {
    const v = only(await evaluateRotation(step0(), step2(), new Fleet()), 'enable');
    assert.equal(v.field, 'mtls.enabledBackend');
    assert.equal(v.retryable, false, 'waiting does not help: the operator must add it first');
    assert.match(v.message, /backend "ca-2" must be added to the mesh in an earlier update/);
  });

  it('refuses when the stored backend of that name has another conf', async () => {
    const stored = step1();
    const next = mtls(
      'ca-2',
      builtin('ca-1'),
      provided('ca-2', { cert: { secret: 'ca-3-cert' }, key: { secret: 'ca-3-key' } }),
    );
    const violations = await evaluateRotation(stored, next, new Fleet());
    const enable = violations.find((v) => v.rule === 'enable');
    assert.ok(enable, JSON.stringify(violations));
    assert.equal(enable.field, 'mtls.enabledBackend');
    assert.match(enable.message, /"ca-2" must be added .* \(with the same type and conf\)/);
    // Changing the conf under the name is also a replace in place (rule 3).
    assert.ok(violations.some((v) => v.rule === 'replace' && v.field === 'mtls.backends[1]'));
  });

  it('refuses when the stored backend of that name has another type', async () => {
    const stored = mtls('ca-1', builtin('ca-1'), builtin('ca-2', undefined, false));
    const violations = await evaluateRotation(stored, step2(), new Fleet());
    assert.ok(
      violations.some((v) => v.rule === 'enable' && !v.retryable),
      JSON.stringify(violations),
    );
  });

  it('passes when the backend was stored earlier with the same conf, written in another key order', async () => {
    const stored = mtls(
      'ca-1',
      builtin('ca-1'),
      provided('ca-2', { key: { secret: 'ca-2-key' }, cert: { secret: 'ca-2-cert' } }),
    );
    const fleet = new Fleet().add('web-1', 'ca-1', trustsBoth);
    assert.deepEqual(await evaluateRotation(stored, step2(), fleet), []);
  });
});

describe('rule 1: enable only once every active dataplane trusts the backend', () => {
  it('refuses while active dataplanes have not acknowledged its root, naming backend, count and names', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', trustsBoth).add('web-2', 'ca-1', trustsCa1).add('api-1', 'ca-1', {});
    const v = only(await evaluateRotation(step1(), step2(), fleet), 'enable');
    assert.equal(v.field, 'mtls.enabledBackend');
    assert.equal(v.retryable, true);
    assert.equal(
      v.message,
      'cannot enable backend "ca-2" yet: 2 active dataplanes do not trust it yet (no acknowledged trust bundle with its root): api-1, web-2',
    );
  });

  it('says "1 active dataplane" for one', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', trustsBoth).add('web-2', 'ca-1', trustsCa1);
    const v = only(await evaluateRotation(step1(), step2(), fleet), 'enable');
    assert.match(v.message, /: 1 active dataplane does not trust it yet .*: web-2$/);
  });

  it('lists at most 10 names and says how many more', async () => {
    const fleet = new Fleet();
    for (let i = 0; i < 23; i++) fleet.add(`dp-${String(i).padStart(2, '0')}`, 'ca-1', trustsCa1);
    const v = only(await evaluateRotation(step1(), step2(), fleet), 'enable');
    assert.match(v.message, /^cannot enable backend "ca-2" yet: 23 active dataplanes/);
    const listed = v.message.split(': ').at(-1)!;
    assert.equal(listed, 'dp-00, dp-01, dp-02, dp-03, dp-04, dp-05, dp-06, dp-07, dp-08, dp-09 and 13 more');
  });

  it('counts a dataplane that trusts other material under the same name as not trusting', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', { 'ca-1': FP_CA1, 'ca-2': FP_CA2_OTHER });
    const v = only(await evaluateRotation(step1(), step2(), fleet), 'enable');
    assert.match(v.message, /1 active dataplane .*: web-1$/);
  });

  it('ignores dataplanes whose certificate has expired', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', trustsBoth).add('gone', 'ca-1', {}, NOW - 1);
    assert.deepEqual(await evaluateRotation(step1(), step2(), fleet), []);
  });

  it('passes once every active dataplane trusts it, and with no dataplanes at all', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', trustsBoth).add('web-2', 'ca-1', trustsBoth);
    assert.deepEqual(await evaluateRotation(step1(), step2(), fleet), []);
    assert.deepEqual(await evaluateRotation(step1(), step2(), new Fleet()), []);
  });

  it('also gates switching back to the old backend', async () => {
    const fleet = new Fleet().add('web-1', 'ca-2', { 'ca-2': FP_CA2 });
    const v = only(await evaluateRotation(step2(), step1(), fleet), 'enable');
    assert.match(v.message, /cannot enable backend "ca-1" yet: 1 active dataplane/);
  });
});

describe('rule 2: remove a backend only when no active dataplane holds its certificates', () => {
  it('refuses while active dataplanes hold its certificates, naming backend, count and names', async () => {
    const fleet = new Fleet()
      .add('web-1', 'ca-2', trustsBoth)
      .add('web-2', 'ca-1', trustsBoth)
      .add('db-1', 'ca-1', trustsBoth);
    const v = only(await evaluateRotation(step2(), step3(), fleet), 'remove');
    assert.equal(v.field, 'mtls.backends');
    assert.equal(v.retryable, true);
    assert.equal(
      v.message,
      'cannot remove backend "ca-1" yet: 2 active dataplanes still hold a certificate issued by it: db-1, web-2',
    );
  });

  it('says "1 active dataplane still holds" for one', async () => {
    const fleet = new Fleet().add('web-1', 'ca-2', trustsBoth).add('web-2', 'ca-1', trustsBoth);
    const v = only(await evaluateRotation(step2(), step3(), fleet), 'remove');
    assert.equal(
      v.message,
      'cannot remove backend "ca-1" yet: 1 active dataplane still holds a certificate issued by it: web-2',
    );
  });

  it('lists at most 10 names and says how many more', async () => {
    const fleet = new Fleet();
    for (let i = 0; i < 12; i++) fleet.add(`dp-${String(i).padStart(2, '0')}`, 'ca-1', trustsBoth);
    const v = only(await evaluateRotation(step2(), step3(), fleet), 'remove');
    assert.match(v.message, /12 active dataplanes still hold .*: dp-00, .*, dp-09 and 2 more$/);
  });

  it('ignores expired certificates', async () => {
    const fleet = new Fleet().add('web-1', 'ca-2', trustsBoth).add('gone', 'ca-1', trustsBoth, NOW - 1);
    assert.deepEqual(await evaluateRotation(step2(), step3(), fleet), []);
  });

  it('passes once all active dataplanes re-issued', async () => {
    const fleet = new Fleet().add('web-1', 'ca-2', trustsBoth).add('web-2', 'ca-2', trustsBoth);
    assert.deepEqual(await evaluateRotation(step2(), step3(), fleet), []);
  });

  it('passes removing a backend nobody was ever issued from (undoing step 1)', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', trustsBoth);
    assert.deepEqual(await evaluateRotation(step1(), step0(), fleet), []);
  });

  it('refuses switching and removing in one update while old certificates are held (both rules report)', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', trustsCa1);
    const violations = await evaluateRotation(step1(), step3(), fleet);
    assert.deepEqual(violations.map((v) => [v.rule, v.field]).sort(), [
      ['enable', 'mtls.enabledBackend'],
      ['remove', 'mtls.backends'],
    ]);
  });
});

describe('step 3 sent right after step 1 (enable ca-2 and remove ca-1 in one update)', () => {
  it('is not retryable: no dataplane can hold a ca-2 certificate before ca-2 is enabled, and it names the skipped step', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', trustsBoth).add('web-2', 'ca-1', trustsBoth);
    const violations = await evaluateRotation(step1(), step3(), fleet);
    assert.deepEqual(
      violations.map((v) => [v.rule, v.retryable]),
      [['remove', false]],
    );
    assert.match(
      violations[0]!.message,
      /cannot remove backend "ca-1" in the same update that enables "ca-2": 2 active dataplanes hold/,
    );
    assert.match(violations[0]!.message, /Enable "ca-2" in its own update first/);
  });
});

describe('rule 3: no replacing CA material in place', () => {
  it('refuses a conf change of a backend while mTLS is on, at the index of the new mesh', async () => {
    const next = mtls(
      'ca-1',
      provided('ca-2', { cert: { secret: 'other-cert' }, key: { secret: 'other-key' } }),
      builtin('ca-1'),
    );
    const v = only(await evaluateRotation(step1(), next, new Fleet()), 'replace');
    assert.equal(v.field, 'mtls.backends[0]');
    assert.equal(v.retryable, false);
    assert.match(
      v.message,
      /backend "ca-2" cannot change its type or conf while mTLS is enabled: to rotate CA material, add a backend under a new name/,
    );
  });

  it('refuses a type change while mTLS is on', async () => {
    const stored = mtls('ca-1', builtin('ca-1'), builtin('ca-2', undefined, false));
    const v = only(await evaluateRotation(stored, step1(), new Fleet()), 'replace');
    assert.equal(v.field, 'mtls.backends[1]');
  });

  it('refuses a caCert change of a builtin backend whose CA exists, even with mTLS off', async () => {
    const stored = mtls('', builtin('ca-1', { caCert: { RSAbits: 2048 } }, true));
    const next = mtls('', builtin('ca-1', { caCert: { RSAbits: 4096 } }, true));
    const v = only(await evaluateRotation(stored, next, new Fleet()), 'replace');
    assert.equal(v.field, 'mtls.backends[0]');
    assert.match(v.message, /the CA of builtin backend "ca-1" already exists and is never regenerated/);
    // ... and of course with mTLS on.
    const on = only(
      await evaluateRotation(mtls('ca-1', ...stored.backends), mtls('ca-1', ...next.backends), new Fleet()),
      'replace',
    );
    assert.match(on.message, /already exists and is never regenerated/);
  });

  it('lets a builtin caCert change while its CA does not exist yet and mTLS is off', async () => {
    const stored = mtls('', builtin('ca-1', { caCert: { RSAbits: 2048 } }, false));
    const next = mtls('', builtin('ca-1', { caCert: { RSAbits: 4096 } }, false));
    assert.deepEqual(await evaluateRotation(stored, next, new Fleet()), []);
  });

  it('lets a provided backend change its conf while mTLS is off', async () => {
    const stored = mtls('', provided('ca-2'));
    const next = mtls('', provided('ca-2', { cert: { secret: 'x' }, key: { secret: 'y' } }));
    assert.deepEqual(await evaluateRotation(stored, next, new Fleet()), []);
  });

  it('does not mind an unchanged manifest sent again', async () => {
    const fleet = new Fleet().add('web-1', 'ca-1', trustsCa1);
    assert.deepEqual(await evaluateRotation(step1(), step1(), fleet), []);
  });
});

describe('rule 5: turning mTLS on or off is not a rotation step', () => {
  const fleet = new Fleet().add('web-1', 'ca-1', {}).add('web-2', 'ca-1', {});

  it('enabling mTLS passes, even for a backend added in the same update', async () => {
    assert.deepEqual(await evaluateRotation(mtls(''), step0(), fleet), []);
    assert.deepEqual(
      await evaluateRotation(mtls('', builtin('ca-1')), mtls('ca-2', builtin('ca-1'), provided('ca-2')), fleet),
      [],
    );
  });

  it('disabling mTLS passes, even removing a backend whose certificates are held', async () => {
    assert.deepEqual(await evaluateRotation(step1(), mtls('', builtin('ca-1'), provided('ca-2')), fleet), []);
    assert.deepEqual(await evaluateRotation(step1(), mtls(''), fleet), []);
  });
});

describe('canonicalConfKey', () => {
  it('is independent of key order and equal for a missing and an empty conf', async () => {
    assert.equal(
      canonicalConfKey('provided', { a: 1, b: { d: 2, c: 3 } }),
      canonicalConfKey('provided', { b: { c: 3, d: 2 }, a: 1 }),
    );
    assert.equal(canonicalConfKey('builtin', undefined), canonicalConfKey('builtin', {}));
    assert.notEqual(canonicalConfKey('builtin', {}), canonicalConfKey('provided', {}));
  });
});

describe('rule 2 says which dataplanes must re-issue and which only have to reload', () => {
  it('names the backend that issued the newer certificate of a proxy still serving the old one', async () => {
    const fleet = {
      notTrusting: () => ({ count: 0, names: [] }),
      issuedBy: () => ({
        count: 3,
        names: ['api-1', 'db-1', 'web-1'],
        notReloaded: {
          count: 2,
          dataplanes: [
            { name: 'api-1', issuedBackend: 'ca-2' },
            { name: 'web-1', issuedBackend: 'ca-2' },
          ],
        },
      }),
    };
    const v = only(await evaluateRotation(step2(), step3(), fleet), 'remove');
    assert.equal(v.retryable, true);
    assert.equal(
      v.message,
      'cannot remove backend "ca-1" yet: 1 active dataplane still holds a certificate issued by it: db-1; ' +
        '2 active dataplanes were issued a certificate by another backend but their proxies still serve the one from "ca-1" (not reloaded yet): ' +
        'api-1 (issued by "ca-2"), web-1 (issued by "ca-2")',
    );
  });
});
