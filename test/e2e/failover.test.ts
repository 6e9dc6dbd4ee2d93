// meshctl and meshcp-dp processes given several control-plane addresses, in front of a control-plane process on
// SQLite: a refused port first, then a black hole (accepts, never answers) first. Both reach the live instance;
// meshctl's output is unchanged unless --verbose, which names the address that answered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { blackHole, refusedAddress, type TestInstance } from '../helpers/failing-instances.js';
import { Proc } from '../helpers/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MESHCTL = join(ROOT, 'bin/meshctl.js');
const MESHCP_DP = join(ROOT, 'bin/meshcp-dp.js');

let work: string;
let cp: CpProcess | undefined;
let hole: TestInstance | undefined;
let dead: string;
let env: NodeJS.ProcessEnv;
const agents: Proc[] = [];

function meshctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [MESHCTL, ...args], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function startAgent(name: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Proc {
  const tokenFile = join(work, `${name}.token`);
  const child = spawn(
    process.execPath,
    [
      MESHCP_DP,
      ...args,
      '--name',
      name,
      '--mesh',
      'default',
      '--address',
      '127.0.0.1',
      '--inbound',
      '20001:8080:web',
      '--token-file',
      tokenFile,
      '--output-dir',
      join(work, name),
    ],
    { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const proc = new Proc(name, child);
  agents.push(proc);
  return proc;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshcp-failover-e2e-'));
  cp = await startCpProcess();
  hole = await blackHole();
  dead = await refusedAddress();
  env = {
    ...process.env,
    MESHCP_TOKEN: readFileSync(join(cp.dataDir, 'admin-token'), 'utf8').trim(),
    MESHCTL_CONFIG: '',
  };
  delete env.NODE_OPTIONS;
  delete env.MESHCP_ADDRESS;
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await hole?.close();
  await cp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('client failover between control-plane addresses, as processes', { timeout: 90_000 }, () => {
  test('meshctl: a refused address, then a black hole, before the live one; output unchanged unless --verbose', async () => {
    const live = cp!.baseUrl;
    assert.deepEqual(
      await meshctl('--address', `${dead},${live}`, 'apply', '-f', 'examples/0-mesh-ca-1.yaml').then(
        ({ ms: _, ...r }) => r,
      ),
      {
        code: 0,
        stdout: 'Mesh default configured\n',
        stderr: '',
      },
    );
    // YAML, not the table: its AGE column moves between runs.
    const direct = await meshctl('--address', live, 'get', 'meshes', '-o', 'yaml');
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /name: default/);

    const afterRefused = await meshctl('--address', `${dead},${live}`, 'get', 'meshes', '-o', 'yaml');
    assert.deepEqual([afterRefused.code, afterRefused.stdout, afterRefused.stderr], [0, direct.stdout, '']);

    const afterHole = await meshctl(
      '--address',
      hole!.address,
      '--address',
      live,
      '--request-timeout',
      '500ms',
      'get',
      'meshes',
      '-o',
      'yaml',
    );
    assert.deepEqual([afterHole.code, afterHole.stdout, afterHole.stderr], [0, direct.stdout, '']);
    // The bound is the flag's 500 ms, not the default 15 s (the rest is the process starting).
    assert.ok(afterHole.ms < 10_000, `meshctl took ${afterHole.ms} ms`);

    const verbose = await meshctl(
      '--verbose',
      '--address',
      `${hole!.address},${live}`,
      '--request-timeout',
      '500ms',
      'get',
      'meshes',
      '-o',
      'yaml',
    );
    assert.equal(verbose.stdout, direct.stdout);
    assert.equal(
      verbose.stderr,
      `meshctl: ${hole!.address} did not answer (no answer within 500 ms); trying ${live}\nmeshctl: answered by ${live}\n`,
    );

    // A POST (a token) after a refused address: it never reached an instance, so the next one gets it.
    const token = await meshctl(
      '--address',
      `${dead},${live}`,
      'generate',
      'dataplane-token',
      '--name',
      'web-1',
      '--no-service-tag',
    );
    assert.equal(token.code, 0, token.stderr);
    writeFileSync(join(work, 'web-1.token'), token.stdout);
    const token2 = await meshctl(
      '--address',
      live,
      'generate',
      'dataplane-token',
      '--name',
      'web-2',
      '--no-service-tag',
    );
    writeFileSync(join(work, 'web-2.token'), token2.stdout);

    const down = await meshctl('--address', `${dead},${hole!.address}`, '--request-timeout', '300ms', 'get', 'meshes');
    assert.deepEqual([down.code, down.stdout], [1, '']);
    assert.equal(
      down.stderr,
      `Error: no control plane answered (${dead}: ECONNREFUSED; ${hole!.address}: no answer within 300 ms)\n`,
    );
  });

  test('meshcp-dp: a refused address first (MESHCP_ADDRESS), a black hole first (--cp-address repeated): certificate and bundle from the live one', async () => {
    const live = cp!.baseUrl;
    const refusedFirst = startAgent('web-1', [], { MESHCP_ADDRESS: `${dead},${live}` });
    const holeFirst = startAgent('web-2', [
      '--cp-address',
      hole!.address,
      '--cp-address',
      live,
      '--request-timeout',
      '500ms',
    ]);
    for (const [agent, reason] of [
      [refusedFirst, 'ECONNREFUSED'],
      [holeFirst, 'no answer within 500 ms'],
    ] as const) {
      await agent.waitFor('the files written', (l) => l.event === 'files-written', 30_000);
      assert.equal(agent.lines.find((l) => l.event === 'certificate')?.issuedBackend, 'ca-1');
      const switches = agent.lines.filter((l) => l.event === 'cp-switch');
      assert.deepEqual(
        switches.map(({ from, to, reason }) => ({ from, to, reason })),
        [{ from: agent === refusedFirst ? dead : hole!.address, to: live, reason }],
      );
      for (const file of ['cert.pem', 'key.pem', 'ca.pem'])
        assert.ok(existsSync(join(work, agent.name, file)), `${agent.name}/${file}`);
      assert.ok(
        !JSON.stringify(agent.lines).includes(readFileSync(join(work, `${agent.name}.token`), 'utf8').trim()),
        'no token in the log',
      );
    }
  });
});
