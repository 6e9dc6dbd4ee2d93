// meshctl's rotation logic without a server: the step plan, the rotate loop over a simulated control plane, and
// the findings of `meshctl check`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkMesh, renderFindings } from '../../src/cli/check.js';
import { runRotate, type RotateDeps } from '../../src/cli/commands/rotate.js';
import { ApiCallError } from '../../src/client/http.js';
import { planRotation } from '../../src/cli/rotation-plan.js';
import type { MeshResource, RotationStatus } from '../../src/cli/types.js';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const DAY = 86_400_000;
const ca1 = { name: 'ca-1', type: 'builtin' };
const ca2 = { name: 'ca-2', type: 'provided', conf: { cert: { secret: 'ca-2-cert' }, key: { secret: 'ca-2-key' } } };

function mesh(enabledBackend: string, backends = [ca1, ca2]): MeshResource {
  return {
    type: 'Mesh',
    name: 'default',
    creationTime: 'x',
    modificationTime: 'y',
    mtls: { enabledBackend, backends },
  };
}

/** A status document as the server computes it, from per-dataplane facts. */
function statusOf(
  m: MeshResource,
  fleet: { issued: string; trusts: string[] }[],
  everEnabled: string[] = ['ca-1'],
): RotationStatus {
  const enabled = m.mtls?.enabledBackend ?? '';
  const names = (m.mtls?.backends ?? []).map((b) => b.name);
  const others = names.filter((n) => n !== enabled);
  const old = others.find((n) => everEnabled.includes(n));
  const notTrusting = (b: string) => fleet.filter((d) => !d.trusts.includes(b));
  const issuedBy = (b: string) => fleet.filter((d) => d.issued === b);
  const sample = (ds: unknown[]) => ({ count: ds.length, names: ds.map((_, i) => `dp-${i}`) });
  let nextStep: RotationStatus['nextStep'];
  if (!enabled || others.length === 0)
    nextStep = { action: 'none', ready: true, description: 'no CA rotation in progress' };
  else if (old)
    nextStep = {
      action: 'remove',
      backend: old,
      ready: issuedBy(old).length === 0,
      description: 'remove',
      waitingFor: sample(issuedBy(old)),
    };
  else
    nextStep = {
      action: 'enable',
      backend: others[0],
      ready: notTrusting(others[0]).length === 0,
      description: 'enable',
      waitingFor: sample(notTrusting(others[0])),
    };
  return {
    mesh: 'default',
    mtlsEnabled: enabled !== '',
    enabledBackend: enabled || null,
    bundleVersion: 'v',
    activeDataplanes: fleet.length,
    backends: names.map((n) => ({
      name: n,
      type: n === 'ca-1' ? 'builtin' : 'provided',
      enabled: n === enabled,
      rootFingerprint: 'AA:BB',
      notAfter: new Date(NOW + 3650 * DAY).toISOString(),
      dataplanesIssued: issuedBy(n).length,
      dataplanesTrusting: fleet.length - notTrusting(n).length,
    })),
    nextStep,
  };
}

describe('rotation plan', () => {
  test('refuses a backend that was not added, and a mesh without mTLS', () => {
    const notAdded = planRotation(mesh('ca-1', [ca1]), statusOf(mesh('ca-1', [ca1]), []), 'ca-2');
    assert.equal(notAdded.kind, 'error');
    assert.match((notAdded as { message: string }).message, /backend "ca-2" is not in mesh "default".*add it first/);
    assert.equal(planRotation(mesh('', [ca1]), statusOf(mesh('', [ca1]), []), 'ca-1').kind, 'error');
  });

  test('step 2 waits until every active dataplane trusts the new backend', () => {
    const m = mesh('ca-1');
    const action = planRotation(
      m,
      statusOf(m, [
        { issued: 'ca-1', trusts: ['ca-1', 'ca-2'] },
        { issued: 'ca-1', trusts: ['ca-1'] },
      ]),
      'ca-2',
    );
    assert.deepEqual(action, {
      kind: 'wait',
      phase: 'enable',
      done: 1,
      total: 2,
      message: '1 of 2 active dataplanes do not trust ca-2 yet',
      waitingFor: { count: 1, names: ['dp-0'] },
    });
  });

  test('step 2 then switches enabledBackend and keeps everything else of the mesh', () => {
    const m = { ...mesh('ca-1'), labels: { team: 'a' }, logging: { x: 1 } };
    const action = planRotation(m, statusOf(m, [{ issued: 'ca-1', trusts: ['ca-1', 'ca-2'] }]), 'ca-2');
    assert.equal(action.kind, 'put');
    assert.deepEqual((action as { mesh: MeshResource }).mesh, {
      type: 'Mesh',
      name: 'default',
      labels: { team: 'a' },
      logging: { x: 1 },
      mtls: { enabledBackend: 'ca-2', backends: [ca1, ca2] },
    });
  });

  test('step 3 waits for re-issues, then removes every other backend', () => {
    const m = mesh('ca-2');
    const waiting = planRotation(
      m,
      statusOf(m, [
        { issued: 'ca-2', trusts: ['ca-1', 'ca-2'] },
        { issued: 'ca-1', trusts: ['ca-1', 'ca-2'] },
      ]),
      'ca-2',
    );
    assert.equal(waiting.kind, 'wait');
    assert.deepEqual([(waiting as { done: number }).done, (waiting as { total: number }).total], [1, 2]);
    const remove = planRotation(m, statusOf(m, [{ issued: 'ca-2', trusts: ['ca-1', 'ca-2'] }]), 'ca-2');
    assert.equal(remove.kind, 'put');
    assert.deepEqual((remove as { mesh: MeshResource }).mesh.mtls, { enabledBackend: 'ca-2', backends: [ca2] });
    assert.deepEqual((remove as { removed: string[] }).removed, ['ca-1']);
  });

  test('done when the target is the only, enabled backend; an empty fleet never waits', () => {
    assert.equal(planRotation(mesh('ca-2', [ca2]), statusOf(mesh('ca-2', [ca2]), []), 'ca-2').kind, 'done');
    assert.equal(planRotation(mesh('ca-1'), statusOf(mesh('ca-1'), []), 'ca-2').kind, 'put');
  });

  test('a backend whose CA cannot be loaded is an error, not an endless wait', () => {
    const m = mesh('ca-1');
    const s = statusOf(m, []);
    s.backends[1].rootFingerprint = null;
    s.error = 'could not load data';
    assert.deepEqual(planRotation(m, s, 'ca-2'), {
      kind: 'error',
      message: 'the CA of backend "ca-2" cannot be loaded: could not load data',
    });
  });
});

/** A control plane in memory: dataplanes trust / re-issue one step per poll, as agents do after a change. */
class FakeControlPlane {
  mesh: MeshResource = mesh('ca-1');
  fleet = [
    { issued: 'ca-1', trusts: ['ca-1'] },
    { issued: 'ca-1', trusts: ['ca-1'] },
  ];
  puts: MeshResource[] = [];
  clock = NOW;
  refuseNextPut = false;

  deps(): RotateDeps {
    return {
      getMesh: async () => structuredClone(this.mesh),
      getStatus: async () => statusOf(this.mesh, this.fleet),
      putMesh: async (m) => {
        if (this.refuseNextPut) {
          this.refuseNextPut = false;
          throw new ApiCallError('PUT', '/meshes/default', 409, {}, 5, [
            'mtls.enabledBackend: cannot enable backend "ca-2" yet',
          ]);
        }
        this.puts.push(m);
        this.mesh = { ...m, creationTime: 'x' };
      },
      sleep: async (ms) => {
        this.clock += ms;
        this.step();
      },
      now: () => this.clock,
    };
  }

  /** One dataplane catches up with the mesh. */
  step(): void {
    const names = (this.mesh.mtls?.backends ?? []).map((b) => b.name);
    const enabled = this.mesh.mtls?.enabledBackend ?? '';
    const behind = this.fleet.find((d) => names.some((n) => !d.trusts.includes(n)) || d.issued !== enabled);
    if (!behind) return;
    if (names.some((n) => !behind.trusts.includes(n))) behind.trusts = [...names];
    else behind.issued = enabled;
  }
}

function ui() {
  const logs: string[] = [];
  const progress: string[] = [];
  return { logs, progress, ui: { log: (l: string) => logs.push(l), progress: (l: string) => progress.push(l) } };
}

describe('rotate loop', () => {
  test('walks steps 2 and 3 with progress, in two PUTs', async () => {
    const cp = new FakeControlPlane();
    cp.mesh = mesh('ca-1');
    const out = ui();
    const result = await runRotate(cp.deps(), out.ui, {
      mesh: 'default',
      target: 'ca-2',
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    assert.deepEqual(result, {
      ok: true,
      message: 'rotation to ca-2 complete: ca-2 is enabled and the only backend of mesh "default"',
    });
    assert.deepEqual(
      cp.puts.map((m) => [m.mtls?.enabledBackend, m.mtls?.backends?.map((b) => b.name)]),
      [
        ['ca-2', ['ca-1', 'ca-2']],
        ['ca-2', ['ca-2']],
      ],
    );
    assert.ok(
      cp.puts.every((m) => m.creationTime === undefined),
      'server-set fields are not sent back',
    );
    assert.deepEqual(out.logs.slice(1), [
      'step 2/3: every dataplane trusts ca-2',
      '✓ enabled ca-2',
      'step 3/3: every dataplane re-issued by ca-2',
      '✓ removed ca-1',
    ]);
    assert.ok(
      out.progress.some((p) => /^trust ca-2 \[.*\] 0\/2 .* waiting for: dp-0, dp-1$/.test(p)),
      out.progress.join('\n'),
    );
    assert.ok(out.progress.some((p) => /^re-issued by ca-2 \[.*\] 1\/2/.test(p)));
  });

  test('re-run after an interruption: starts from step 3, or is already done', async () => {
    const cp = new FakeControlPlane();
    cp.mesh = mesh('ca-2');
    cp.fleet = [{ issued: 'ca-1', trusts: ['ca-1', 'ca-2'] }];
    const first = await runRotate(cp.deps(), ui().ui, {
      mesh: 'default',
      target: 'ca-2',
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    assert.equal(first.ok, true);
    assert.equal(cp.puts.length, 1);
    const again = ui();
    const second = await runRotate(cp.deps(), again.ui, {
      mesh: 'default',
      target: 'ca-2',
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    assert.equal(second.ok, true);
    assert.equal(cp.puts.length, 1, 'nothing left to write');
  });

  test('a 409 with Retry-After (a dataplane joined meanwhile) means wait and try again', async () => {
    const cp = new FakeControlPlane();
    cp.fleet = [{ issued: 'ca-1', trusts: ['ca-1', 'ca-2'] }];
    cp.refuseNextPut = true;
    const out = ui();
    const result = await runRotate(cp.deps(), out.ui, {
      mesh: 'default',
      target: 'ca-2',
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    assert.equal(result.ok, true);
    assert.ok(
      out.logs.some((l) =>
        l.startsWith('the control plane refused to enable ca-2 (was ca-1) for now, waiting: mtls.enabledBackend'),
      ),
    );
  });

  test('timeout: names the step and the dataplanes, and says re-running continues', async () => {
    const cp = new FakeControlPlane();
    const deps = cp.deps();
    deps.sleep = async (ms) => void (cp.clock += ms); // the fleet never catches up
    const result = await runRotate(deps, ui().ui, {
      mesh: 'default',
      target: 'ca-2',
      timeoutMs: 5000,
      intervalMs: 1000,
    });
    assert.equal(result.ok, false);
    assert.equal(
      result.message,
      'timed out after 5s in step 2/3: every dataplane trusts ca-2: 2 of 2 active dataplanes do not trust ca-2 yet; waiting for: dp-0, dp-1. Run the same command again to continue from here.',
    );
  });

  test('a refusal that waiting cannot fix ends the command with the API lines', async () => {
    const cp = new FakeControlPlane();
    cp.fleet = [];
    const deps = cp.deps();
    deps.putMesh = async () => {
      throw new ApiCallError('PUT', '/meshes/default', 409, {}, undefined, [
        'mtls.enabledBackend: backend "ca-2" must be added to the mesh in an earlier update',
      ]);
    };
    const result = await runRotate(deps, ui().ui, {
      mesh: 'default',
      target: 'ca-2',
      timeoutMs: 5000,
      intervalMs: 1000,
    });
    assert.deepEqual(result, {
      ok: false,
      message: 'the control plane refused to enable ca-2 (was ca-1):',
      lines: ['mtls.enabledBackend: backend "ca-2" must be added to the mesh in an earlier update'],
    });
  });
});

describe('check', () => {
  const m = mesh('ca-1');
  test('a CA expiring within the window, an expired one, and a half-done rotation are problems', () => {
    const s = statusOf(m, [{ issued: 'ca-1', trusts: ['ca-1'] }]);
    s.backends[0].notAfter = new Date(NOW + 3 * DAY).toISOString();
    s.backends[1].notAfter = new Date(NOW - DAY).toISOString();
    const findings = checkMesh(s, NOW, 30 * DAY);
    assert.deepEqual(
      findings.map((f) => [f.problem, f.message]),
      [
        [
          true,
          'CA of backend ca-1 (builtin, enabled) expires at 2026-12-01 12:00:00 UTC (in 3d), within the 30d window',
        ],
        [true, 'CA of backend ca-2 (provided) expired at 2026-11-27 12:00:00 UTC (1d ago)'],
        [
          true,
          'CA rotation half-done: enabled backend ca-1, backends ca-1, ca-2; next step enable ca-2 (not ready: enable); finish it with: meshctl rotate --mesh default --to ca-2',
        ],
      ],
    );
    const { text, problems } = renderFindings(findings, 2);
    assert.equal(problems, 3);
    assert.match(text, /^FAIL mesh default: CA of backend ca-1/);
    assert.match(text, /\n3 problems in 1 of 2 meshes\n$/);
  });

  test('a finished rotation with a long-lived CA is fine; a mesh without mTLS too', () => {
    const done = mesh('ca-2', [ca2]);
    const findings = [
      ...checkMesh(statusOf(done, []), NOW, 30 * DAY),
      ...checkMesh(statusOf(mesh('', []), []), NOW, 30 * DAY),
    ];
    assert.ok(findings.every((f) => !f.problem));
    assert.equal(renderFindings(findings, 2).text.split('\n').at(-2), 'all 2 meshes OK');
  });
});
