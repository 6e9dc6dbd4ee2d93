// The README's rotation walk-through without Docker, for real: a control-plane process, two meshcp-dp agent processes
// calling each other over mTLS, and meshctl processes driving the CA rotation from the builtin ca-1 to a provided ca-2
// made by openssl. Asserts meshctl's outputs and exit codes, and that the agents saw zero failed handshakes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, Proc, type LogLine } from '../helpers/processes.js';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MESHCTL = join(ROOT, 'bin/meshctl.js');
const MESHCP_DP = join(ROOT, 'bin/meshcp-dp.js');

let work: string;
let dataDir: string;
let cp: CpProcess | undefined;
let address: string;
let env: NodeJS.ProcessEnv;
const agents: Proc[] = [];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function meshctl(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MESHCTL, ...args], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function startAgent(name: string, service: string, port: number, peerPort: number, tokenFile: string): Proc {
  const child = spawn(
    process.execPath,
    [
      MESHCP_DP,
      '--cp-address',
      address,
      '--name',
      name,
      '--mesh',
      'default',
      '--address',
      '127.0.0.1',
      '--inbound',
      `${port}:8080:${service}`,
      '--token-file',
      tokenFile,
      '--output-dir',
      join(work, name),
      '--reissue-delay',
      '500ms',
      '--serve',
      '--call',
      `127.0.0.1:${peerPort}`,
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const proc = new Proc(name, child);
  agents.push(proc);
  return proc;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshcp-cli-e2e-'));
  dataDir = join(work, 'data');
  cp = await startCpProcess({}, 30_000, { dataDir });
  address = cp.baseUrl;
  // meshctl finds the CP and the admin token the documented ways: env and the token file in the data dir.
  env = {
    ...process.env,
    MESHCP_ADDRESS: address,
    MESHCP_TOKEN: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim(),
    MESHCTL_CONFIG: '',
  };
  delete env.NODE_OPTIONS;
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('meshctl and meshcp-dp against a control-plane process', { timeout: 120_000 }, () => {
  test('rotation from builtin ca-1 to a provided ca-2 with traffic flowing', async () => {
    // mTLS on with the builtin ca-1
    const mesh = await meshctl('apply', '-f', 'examples/0-mesh-ca-1.yaml');
    assert.deepEqual(mesh, { code: 0, stdout: 'Mesh default configured\n', stderr: '' });

    // two dataplane tokens, two agents dialing each other every second
    const [t1, t2] = await Promise.all([
      meshctl(
        'generate',
        'dataplane-token',
        '--name',
        'web-1',
        '--mesh',
        'default',
        '--valid-for',
        '1h',
        '--tag',
        'kuma.io/service=web',
      ),
      meshctl(
        'generate',
        'dataplane-token',
        '--name',
        'web-2',
        '--mesh',
        'default',
        '--valid-for',
        '1h',
        '--tag',
        'kuma.io/service=backend',
      ),
    ]);
    assert.equal(t1.code, 0, t1.stderr);
    writeFileSync(join(work, 'web-1.token'), t1.stdout);
    writeFileSync(join(work, 'web-2.token'), t2.stdout);
    const [p1, p2] = [await freePort(), await freePort()];
    const a1 = startAgent('web-1', 'web', p1, p2, join(work, 'web-1.token'));
    const a2 = startAgent('web-2', 'backend', p2, p1, join(work, 'web-2.token'));
    const callOk = (l: LogLine) => l.event === 'call' && l.ok === true;
    await Promise.all([
      a1.waitFor('a successful call', callOk, 30_000),
      a2.waitFor('a successful call', callOk, 30_000),
    ]);

    // the provided CA, made by openssl, as two secrets in one manifest
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        '/CN=ca-2',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout',
        join(work, 'ca-2.key'),
        '-out',
        join(work, 'ca-2.crt'),
      ],
      { stdio: 'ignore' },
    );
    const b64 = (f: string) => readFileSync(join(work, f)).toString('base64');
    writeFileSync(
      join(work, 'ca-2-secrets.yaml'),
      `type: Secret\nmesh: default\nname: ca-2-cert\ndata: ${b64('ca-2.crt')}\n---\ntype: Secret\nmesh: default\nname: ca-2-key\ndata: ${b64('ca-2.key')}\n`,
    );
    const secrets = await meshctl('apply', '-f', join(work, 'ca-2-secrets.yaml'));
    assert.deepEqual(secrets, {
      code: 0,
      stdout: 'Secret default/ca-2-cert created\nSecret default/ca-2-key created\n',
      stderr: '',
    });

    // step 1 of the guide
    assert.equal((await meshctl('apply', '-f', 'examples/1-add-ca-2.yaml')).stdout, 'Mesh default configured\n');

    // jumping to step 3 now is refused: both agents hold ca-1 certificates (one readable line per cause)
    const early = await meshctl('apply', '-f', 'examples/3-remove-ca-1.yaml');
    assert.equal(early.code, 1);
    assert.match(
      early.stderr,
      /^Error: Mesh default: mtls\.backends: cannot remove backend "ca-1" in the same update that enables "ca-2": 2 active dataplanes hold .*Enable "ca-2" in its own update first/m,
    );
    assert.doesNotMatch(
      early.stderr,
      /waiting helps/,
      'no dataplane can hold a ca-2 certificate before ca-2 is enabled',
    );

    // the agents acknowledge the new bundle at once (long-poll): the enable step becomes ready
    const watched = await meshctl('rotation', 'status', '--mesh', 'default', '--watch', '--interval', '500ms');
    assert.equal(watched.code, 0, watched.stderr);
    const status = await meshctl('rotation', 'status', '--mesh', 'default');
    assert.match(status.stdout, /^Mesh "default": mTLS on, enabled backend ca-1, 2 active dataplanes/);
    assert.match(status.stdout, /\nca-2\s+provided\s+no\s+0\/2\s+2\/2\s+/);
    assert.match(status.stdout, /\ntrust ca-2\s+\[█+\] 2\/2 100%\n/);
    assert.match(status.stdout, /\nre-issued by ca-2 \[░+\] 0\/2\s+0%\n/);
    assert.match(status.stdout, /\nNext step: enable ca-2 \(ready\)\n/);

    const halfDone = await meshctl('check');
    assert.equal(halfDone.code, 1);
    assert.match(
      halfDone.stdout,
      /^FAIL mesh default: CA rotation half-done: enabled backend ca-1, backends ca-1, ca-2; next step enable ca-2 \(ready now\)/m,
    );

    // steps 2 and 3
    const rotate = await meshctl(
      'rotate',
      '--mesh',
      'default',
      '--to',
      'ca-2',
      '--timeout',
      '45s',
      '--interval',
      '500ms',
    );
    assert.equal(rotate.code, 0, rotate.stderr + rotate.stdout);
    assert.match(
      rotate.stdout,
      /^mesh default: enabled backend ca-1, backends ca-1, ca-2, 2 active dataplanes; rotating to ca-2\n/,
    );
    assert.match(
      rotate.stdout,
      /\nstep 2\/3: every dataplane trusts ca-2\n[^]*✓ enabled ca-2\nstep 3\/3: every dataplane re-issued by ca-2\n[^]*✓ removed ca-1\n✓ rotation to ca-2 complete/,
    );

    const done = await meshctl('rotation', 'status');
    assert.match(done.stdout, /enabled backend ca-2, 2 active dataplanes/);
    assert.match(done.stdout, /\nNext step: none \(no CA rotation in progress\)\n$/);
    const inspect = await meshctl('inspect', 'dataplanes');
    assert.match(inspect.stdout, /\ndefault\s+web-1\s+web\s+ca-2\s+ca-2\s/);
    assert.match(inspect.stdout, /\ndefault\s+web-2\s+backend\s+ca-2\s+ca-2\s/);

    const ok = await meshctl('check', '--warn-before', '30d');
    assert.deepEqual([ok.code, ok.stdout.trim().split('\n').at(-1)], [0, 'all 1 mesh OK']);
    const soon = await meshctl('check', '--warn-before', '11y');
    assert.equal(soon.code, 1);
    assert.match(
      soon.stdout,
      /^FAIL mesh default: CA of backend ca-2 \(provided, enabled\) expires at .* \(in 9y\d+d\), within the 11y window$/m,
    );

    // traffic keeps flowing on ca-2 certificates; then the agents' summaries: no failed handshake at any point
    const onCa2 = (l: LogLine) => callOk(l) && l.ownBackend === 'ca-2' && String(l.peerIssuer).includes('CN=ca-2');
    await Promise.all([a1.waitFor('a call on ca-2', onCa2), a2.waitFor('a call on ca-2', onCa2)]);
    for (const agent of [a1, a2]) {
      assert.equal(await agent.stop(), 0, agent.stderr);
      const summary = agent.lines.find((l) => l.event === 'summary')!;
      assert.ok(summary, `${agent.name}: no summary`);
      const calls = summary.calls as { ok: number; failed: number };
      assert.equal(calls.failed, 0, JSON.stringify(agent.lines.filter((l) => l.event === 'call' && l.ok === false)));
      assert.ok(calls.ok >= 3, JSON.stringify(summary));
      assert.equal(summary.serveHandshakeFailures, 0);
      assert.equal(summary.issuedBackend, 'ca-2');

      // the files for a proxy: the key matches the certificate, which ca-2 signed, and the bundle is ca-2 alone
      const file = (f: string) => readFileSync(join(work, agent.name, f), 'utf8');
      const leaf = new X509Certificate(file('cert.pem'));
      assert.ok(leaf.checkPrivateKey(createPrivateKey(file('key.pem'))));
      const ca2 = new X509Certificate(readFileSync(join(work, 'ca-2.crt')));
      assert.ok(leaf.verify(ca2.publicKey));
      assert.equal(new X509Certificate(file('ca.pem')).fingerprint256, ca2.fingerprint256);
    }
  });
});
