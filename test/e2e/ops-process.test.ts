// The operator's first minutes with a real control-plane process: metrics scraped over HTTP from the diagnostics
// listener, a port in use explained in one line, human-readable logs on request.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCpProcess, startCpProcess, type CpProcess } from '../helpers/cp-process.js';

const started: CpProcess[] = [];
after(async () => {
  await Promise.all(started.map((cp) => cp.stop()));
});

describe('control-plane process, operator side', { timeout: 60_000 }, () => {
  it('serves Prometheus metrics on the diagnostics port', async () => {
    const cp = await startCpProcess({ MESHCP_DIAGNOSTICS_PORT: '0' });
    started.push(cp);
    const line = cp.logs.find((l) => l.msg === 'diagnostics listening (Prometheus metrics)');
    assert.ok(line, JSON.stringify(cp.logs));
    const res = await fetch(line.url);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^meshcp_active_dataplanes\{mesh="default"\} 0$/m);
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.ok(
      cp.logs.some((l) => l.event === 'mesh-created' && l.msg === 'mesh default created'),
      'the default mesh is an event',
    );
  });

  it('a port in use is one line naming the variable to change', async () => {
    const cp = await startCpProcess();
    started.push(cp);
    const port = new URL(cp.baseUrl).port;
    const second = await runCpProcess({ MESHCP_API_HTTP_PORT: port });
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr,
      `meshcp: port ${port} is already in use: stop what uses it or set MESHCP_API_HTTP_PORT to another port (0 picks a free one)\n`,
    );
  });

  it('MESHCP_LOG_FORMAT=pretty prints lines for people', async () => {
    const out = await runCpProcess(
      { MESHCP_LOG_FORMAT: 'pretty' },
      {
        stopWhen: (stdout) =>
          /HTTP API listening[^]*mesh default created|mesh default created[^]*HTTP API listening/.test(stdout),
      },
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /INFO.*: HTTP API listening/);
    assert.match(out.stdout, /INFO.*: mesh default created/);
    assert.throws(() => JSON.parse(out.stdout.split('\n')[0]));
  });
});
