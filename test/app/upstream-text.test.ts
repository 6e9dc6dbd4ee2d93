// What an upstream says reaches people bounded and without control characters: a "Vault" (a real HTTP listener)
// answering with terminal escape sequences and ~900 KB of text gives a 400 whose message is capped and clean, and
// meshctl, shown the same answer by a control plane, writes no control character it received to the terminal.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runMeshctl } from '../../src/cli/program.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const HOSTILE = '\x1b]0;pwned\x07\x1b[2J\x1b[31mrole refused\r\u202eevil\x9b1m';
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let upstream: Server;
let upstreamAddress = '';
let answer = '';

before(async () => {
  upstream = createServer((_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end(answer));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamAddress = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

describe('Vault error text in API answers', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await t.app.inject({
      method: 'PUT',
      url: '/meshes/default/secrets/vault-token',
      payload: { type: 'Secret', mesh: 'default', name: 'vault-token', data: Buffer.from('hvs.x').toString('base64') },
    });
  });
  after(async () => {
    await t.close();
    rmSync(t.dataDir, { recursive: true, force: true });
  });

  it('is capped per message, without control characters', async () => {
    answer = JSON.stringify({
      errors: [HOSTILE + 'A'.repeat(300_000), 'B'.repeat(300_000), 'C'.repeat(300_000), 'D', 'E'],
    });
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: {
        enabledBackend: 'v',
        backends: [
          {
            name: 'v',
            type: 'vault',
            conf: {
              fromCp: { address: upstreamAddress, pki: 'pki', role: 'dp', auth: { token: { secret: 'vault-token' } } },
            },
          },
        ],
      },
    };
    const res = await t.app.inject({ method: 'PUT', url: '/meshes/default?dryRun=true', payload: mesh });
    assert.equal(res.statusCode, 400, res.body);
    assert.ok(res.body.length < 16 * 1024, `a ${res.body.length}-byte answer`);
    const reason: string = JSON.parse(res.body).invalid_parameters[0].reason;
    assert.match(
      reason,
      /^Vault answered 403 to GET \/v1\/auth\/token\/lookup-self: \]0;pwned\[2J\[31mrole refused evil1mA+… \(\d+ more characters\); B+… .*\(and 2 more\)$/,
    );
    assert.doesNotMatch(reason, CONTROL);
  });
});

describe("meshctl and a control plane's answer", () => {
  let fakeCp: Server;
  let cpAddress = '';
  before(async () => {
    // A control plane (or anything answering as one) whose error carries escape sequences.
    fakeCp = createServer((_req, res) => {
      const body = {
        type: '/std-errors',
        status: 400,
        title: `Bad ${HOSTILE}`,
        detail: HOSTILE,
        invalid_parameters: [{ field: `f${HOSTILE}`, reason: HOSTILE }],
      };
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => fakeCp.listen(0, '127.0.0.1', resolve));
    cpAddress = `http://127.0.0.1:${(fakeCp.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => fakeCp.close(() => resolve()));
  });

  it('writes no control character it received to stdout or stderr', async () => {
    let stdout = '';
    let stderr = '';
    const code = await runMeshctl(['get', 'meshes'], {
      stdout: { write: (s: string) => (stdout += s), isTTY: true },
      stderr: { write: (s: string) => (stderr += s), isTTY: true },
      env: { MESHCP_ADDRESS: cpAddress, MESHCTL_CONFIG: '', XDG_CONFIG_HOME: '/nonexistent' },
      readStdin: async () => '',
      now: () => Date.now(),
      sleep: async () => {},
    });
    assert.notEqual(code, 0);
    assert.match(stderr, /role refused/, stderr);
    assert.doesNotMatch(stdout + stderr, CONTROL);
  });
});
