// meshctl commands in-process against a real listening control plane (test app on loopback): what they print, and
// their exit codes. The multi-process path (real binaries, agents, a provided CA) is test/e2e/cli.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { runMeshctl } from '../../src/cli/program.js';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

let t: TestApp;
let address: string;

before(async () => {
  t = await createTestApp();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  address = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});

after(async () => {
  await t?.close();
  if (t) rmSync(t.dataDir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function meshctl(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runMeshctl(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { MESHCP_ADDRESS: address, MESHCTL_CONFIG: '', XDG_CONFIG_HOME: '/nonexistent', ...options.env },
    readStdin: async () => options.stdin ?? '',
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
  });
  return { code, stdout, stderr };
}

const MESH_CA1 =
  'type: Mesh\nname: default\nmtls:\n  enabledBackend: ca-1\n  backends:\n  - name: ca-1\n    type: builtin\n';
const MESH_CA1_CA2 = MESH_CA1 + '  - name: ca-2\n    type: builtin\n    conf:\n      caCert:\n        RSAbits: 2048\n';

describe('apply, get, delete', () => {
  test('apply from stdin: created, configured, dry run writes nothing', async () => {
    const secret = 'type: Secret\nname: s1\ndata: YWJj\n---\ntype: GlobalSecret\nname: g1\ndata: YWJj\n';
    assert.deepEqual(await meshctl(['apply', '-f', '-', '--dry-run'], { stdin: secret }), {
      code: 0,
      stdout: 'Secret default/s1 created (dry run)\nGlobalSecret g1 created (dry run)\n',
      stderr: '',
    });
    assert.equal((await meshctl(['get', 'secret', 's1'])).code, 1);
    assert.equal(
      (await meshctl(['apply', '-f', '-'], { stdin: secret })).stdout,
      'Secret default/s1 created\nGlobalSecret g1 created\n',
    );
    assert.equal(
      (
        await meshctl(['apply', '-f', '-'], {
          stdin: JSON.stringify({ type: 'Secret', name: 's1', mesh: 'default', data: 'eHl6' }),
        })
      ).stdout,
      'Secret default/s1 configured\n',
    );
  });

  test('get: tables, yaml and json', async () => {
    const list = await meshctl(['get', 'secrets', '--mesh', 'default']);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^NAME\s+AGE\n/);
    assert.match(list.stdout, /\ns1\s+\d+s\n/);
    const all = await meshctl(['get', 'secrets']);
    assert.match(all.stdout, /^MESH\s+NAME\s+AGE\n/);
    const json = JSON.parse((await meshctl(['get', 'global-secrets', '-o', 'json'])).stdout);
    assert.deepEqual(
      json.items.map((i: { name: string }) => i.name),
      ['g1'],
    );
    const yaml = (await meshctl(['get', 'secret', 's1', '-o', 'yaml'])).stdout;
    assert.match(yaml, /^type: Secret\nmesh: default\nname: s1\n/);
    assert.match(
      (await meshctl(['get', 'meshes'])).stdout,
      /^NAME\s+MTLS\s+BACKENDS\s+AGE\ndefault\s+off\s+-\s+\d+s\n$/,
    );
    assert.equal((await meshctl(['get', 'dataplanes'])).stdout, 'no dataplanes found\n');
  });

  test('errors: one readable line per cause, non-zero exit', async () => {
    const bad =
      'type: Mesh\nname: default\nmtls:\n  enabledBackend: nope\n  backends:\n  - name: ca-1\n    type: builtin\n  - name: ca-1\n    type: builtin\n';
    const run = await meshctl(['apply', '-f', '-'], { stdin: bad });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      'Error: Mesh default: mtls.backends[1].name: "ca-1" name is already used for another backend\n' +
        'Error: Mesh default: mtls.enabledBackend: has to be set to one of the backends in the mesh\n',
    );
    assert.deepEqual(await meshctl(['get', 'dataplane', 'nope']), {
      code: 1,
      stdout: '',
      stderr: 'Error: Dataplane default/nope not found\n',
    });
    assert.equal(
      (await meshctl(['get', 'zones'])).stderr,
      'Error: unknown resource type "zones": use one of meshes, secrets, global-secrets, dataplanes, meshidentities, meshtrusts\n',
    );
    assert.equal(
      (await meshctl(['get', 'meshes'], { env: { MESHCP_TOKEN: 'wrong' } })).stderr,
      'Error: Invalid authentication data: Unauthenticated: the token is neither the admin token nor a JWT (a dataplane token is three base64url parts separated by dots)\n',
    );
    const down = await meshctl(['get', 'meshes', '--address', 'http://127.0.0.1:1']);
    assert.equal(down.code, 1);
    assert.equal(down.stderr, 'Error: cannot reach the control plane at http://127.0.0.1:1: ECONNREFUSED\n');
    assert.notEqual((await meshctl(['frobnicate'])).code, 0);
  });

  test("delete, also refused with the server's message", async () => {
    assert.deepEqual(await meshctl(['delete', 'global-secret', 'g1', '--dry-run']), {
      code: 0,
      stdout: 'GlobalSecret g1 deleted (dry run)\n',
      stderr: '',
    });
    assert.equal((await meshctl(['delete', 'global-secret', 'g1'])).stdout, 'GlobalSecret g1 deleted\n');
    assert.equal((await meshctl(['delete', 'global-secret', 'g1'])).stderr, 'Error: GlobalSecret g1 not found\n');
  });
});

describe('tokens, rotation, check', () => {
  test('generate dataplane-token prints a JWT', async () => {
    const run = await meshctl([
      'generate',
      'dataplane-token',
      '--name',
      'web-1',
      '--mesh',
      'default',
      '--valid-for',
      '1h',
    ]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    assert.match(
      (await meshctl(['generate', 'dataplane-token', '--name', 'x', '--valid-for', 'soon'])).stderr,
      /--valid-for must be a duration/,
    );
  });

  test('rotation between two builtin CAs with no active dataplanes: status, check, rotate, check', async () => {
    assert.equal((await meshctl(['apply', '-f', '-'], { stdin: MESH_CA1 })).code, 0);
    assert.equal((await meshctl(['apply', '-f', '-'], { stdin: MESH_CA1_CA2 })).code, 0);

    const status = await meshctl(['rotation', 'status']);
    assert.match(status.stdout, /^Mesh "default": mTLS on, enabled backend ca-1, 0 active dataplanes/);
    assert.match(status.stdout, /\nNext step: enable ca-2 \(ready\)\n/);
    assert.equal(JSON.parse((await meshctl(['rotation', 'status', '-o', 'json'])).stdout).nextStep.action, 'enable');
    // --watch returns at once when the step is ready
    assert.match((await meshctl(['rotation', 'status', '--watch'])).stdout, /Next step: enable ca-2 \(ready\)/);

    const halfDone = await meshctl(['check']);
    assert.equal(halfDone.code, 1);
    assert.match(
      halfDone.stdout,
      /^FAIL mesh default: CA rotation half-done: .* next step enable ca-2 \(ready now\); finish it with: meshctl rotate --mesh default --to ca-2$/m,
    );

    const rotate = await meshctl(['rotate', '--to', 'ca-2', '--timeout', '10s', '--interval', '100ms']);
    assert.equal(rotate.code, 0, rotate.stderr);
    assert.match(rotate.stdout, /✓ enabled ca-2\n/);
    assert.match(rotate.stdout, /✓ removed ca-1\n/);
    assert.match(rotate.stdout, /✓ rotation to ca-2 complete/);
    const again = await meshctl(['rotate', '--to', 'ca-2']);
    assert.equal(again.code, 0);
    assert.doesNotMatch(again.stdout, /✓ (enabled|removed)/);

    const ok = await meshctl(['check']);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(
      ok.stdout,
      /^ok {3}mesh default: CA of backend ca-2 \(builtin, enabled\) valid until .* \(in 9y\d+d\)\nall 1 mesh OK\n$/,
    );
    const soon = await meshctl(['check', '--warn-before', '20y']);
    assert.equal(soon.code, 1);
    assert.match(
      soon.stdout,
      /^FAIL mesh default: CA of backend ca-2 \(builtin, enabled\) expires at .*, within the 20y window$/m,
    );
    assert.equal((await meshctl(['check', '--address', 'http://127.0.0.1:1'])).code, 2);
  });

  test('rotate to a backend that was never added says to add it first', async () => {
    const run = await meshctl(['rotate', '--to', 'ca-9']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^Error: backend "ca-9" is not in mesh "default" \(backends: ca-2\): add it first/);
    // The guide's example would be refused in this state (it enables ca-1, which is gone): not suggested here.
    assert.equal((await meshctl(['apply', '-f', 'examples/1-add-ca-2.yaml', '--dry-run'])).code, 1);
    assert.doesNotMatch(run.stderr, /examples\//);
    assert.equal(
      run.stderr,
      'Error: backend "ca-9" is not in mesh "default" (backends: ca-2): add it first (step 1 of the rotation), keeping the backends the mesh has: ' +
        'meshctl get mesh default -o yaml > default.yaml, append to mtls.backends e.g. "- {name: ca-9, type: builtin}" (or your provided or vault backend), then meshctl apply -f default.yaml\n',
    );
    // What it suggests passes: the stored mesh, ca-9 appended to its backends.
    const stored = parseYaml((await meshctl(['get', 'mesh', 'default', '-o', 'yaml'])).stdout);
    stored.mtls.backends.push(parseYaml('{name: ca-9, type: builtin}'));
    assert.deepEqual(await meshctl(['apply', '-f', '-', '--dry-run'], { stdin: stringifyYaml(stored) }), {
      code: 0,
      stdout: 'Mesh default configured (dry run)\n',
      stderr: '',
    });
  });

  test('inspect dataplanes and meshes', async () => {
    const dp =
      'type: Dataplane\nname: web-1\nnetworking:\n  address: 127.0.0.1\n  inbound:\n  - port: 20001\n    servicePort: 8080\n    tags:\n      kuma.io/service: web\n';
    assert.equal((await meshctl(['apply', '-f', '-'], { stdin: dp })).stdout, 'Dataplane default/web-1 created\n');
    const { bundleVersion } = (await t.app.inject({ method: 'GET', url: '/meshes/default/ca-rotation' })).json();
    // The dataplane itself acknowledges (an admin's call never counts as a dataplane's acknowledgement).
    const token = (
      await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name: 'web-1', mesh: 'default' } })
    ).body;
    const cert = await t.app.inject({
      method: 'POST',
      url: '/meshes/default/dataplanes/web-1/certificate',
      headers: { authorization: `Bearer ${token}` },
      payload: { bundleVersion },
    });
    assert.equal(cert.statusCode, 200);
    const inspect = await meshctl(['inspect', 'dataplanes', '--mesh', 'default']);
    assert.match(inspect.stdout, /^MESH\s+NAME\s+SERVICES\s+ISSUED BACKEND\s+TRUSTED BACKENDS\s+CERT EXPIRES/);
    assert.match(
      inspect.stdout,
      /\ndefault\s+web-1\s+web\s+ca-2\s+ca-2\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 23h5\dm\)\s+1\s+\d+s ago\n/,
    );
    assert.match((await meshctl(['inspect', 'meshes'])).stdout, /\ndefault\s+1\s+1\s+ca-2:1\s+ca-2:1\n/);
    assert.equal((await meshctl(['delete', 'dataplane', 'web-1'])).code, 0);
  });
});
