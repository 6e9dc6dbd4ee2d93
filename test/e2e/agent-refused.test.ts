// meshcp-dp given another dataplane's token: the control plane answers 403, and the agent process stops at once with
// a message that says what to do, instead of retrying forever.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { Proc } from '../helpers/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'meshcp-agent-refused-'));
let cp: CpProcess | undefined;
after(async () => {
  await cp?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('meshcp-dp with a token that is not its own', { timeout: 60_000 }, () => {
  it('stops on the 403 with a clear message (exit 1, one refusal logged, no retries)', async () => {
    cp = await startCpProcess();
    const mesh = await fetch(`${cp.baseUrl}/meshes/default`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'Mesh',
        name: 'default',
        mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
      }),
    });
    assert.equal(mesh.status, 200);
    const token = await fetch(`${cp.baseUrl}/tokens/dataplane`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'web-2', mesh: 'default', tags: { 'kuma.io/service': ['backend'] } }),
    });
    writeFileSync(join(work, 'web-2.token'), await token.text());
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const agent = new Proc(
      'web-1',
      spawn(
        process.execPath,
        [
          join(ROOT, 'bin/meshcp-dp.js'),
          '--cp-address',
          cp.baseUrl,
          '--name',
          'web-1',
          '--address',
          '127.0.0.1',
          '--inbound',
          '20001:8080:web',
          '--token-file',
          join(work, 'web-2.token'),
          '--output-dir',
          join(work, 'web-1'),
        ],
        { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    assert.equal(await agent.exited, 1);
    assert.equal(
      agent.stderr,
      'meshcp-dp: the control plane refused this agent\'s token (PUT /meshes/default/dataplanes/web-1: 403: Access Denied: dataplane "web-2" of mesh "default" can act only on its own Dataplane). ' +
        'Retrying with it cannot help: give the agent a token of dataplane default/web-1 (meshctl generate dataplane-token --name web-1 --mesh default) and start it again\n',
    );
    assert.deepEqual(
      agent.lines.map((l) => l.event),
      ['refused'],
    );
  });
});
