// The proxy reload command: its exit status, its output for the log, and a time limit that kills everything it started.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { runReloadCommand } from '../../src/agent/reload.js';

describe('runReloadCommand', () => {
  test('exit 0 is a reload; the output directory is in the environment', async () => {
    const outcome = await runReloadCommand('echo "reloading $MESHCP_DP_OUTPUT_DIR"', 5_000, {
      MESHCP_DP_OUTPUT_DIR: '/certs/web-1',
    });
    assert.deepEqual(
      [outcome.ok, outcome.code, outcome.timedOut, outcome.output],
      [true, 0, false, 'reloading /certs/web-1'],
    );
  });

  test('the dataplane token is not passed to the command', async () => {
    process.env.MESHCP_DP_TOKEN = 'secret-token';
    try {
      const outcome = await runReloadCommand('echo "token=${MESHCP_DP_TOKEN:-none}"', 5_000, {});
      assert.equal(outcome.output, 'token=none');
    } finally {
      delete process.env.MESHCP_DP_TOKEN;
    }
  });

  test('a non-zero exit fails with stdout and stderr kept for the log', async () => {
    const outcome = await runReloadCommand(
      'echo checking; echo "nginx: [emerg] key values mismatch" >&2; exit 1',
      5_000,
      {},
    );
    assert.deepEqual(
      [outcome.ok, outcome.code, outcome.output],
      [false, 1, 'checking\nnginx: [emerg] key values mismatch'],
    );
  });

  test('a command that hangs is killed at the time limit, with the processes it started', async () => {
    const started = Date.now();
    const outcome = await runReloadCommand('sleep 30 & echo "child $!"; wait', 300, {});
    assert.equal(outcome.ok, false);
    assert.equal(outcome.timedOut, true);
    assert.ok(Date.now() - started < 5_000, 'did not wait for the command');
    const pid = Number(/child (\d+)/.exec(outcome.output)?.[1]);
    assert.ok(pid > 0, outcome.output);
    // Killed: gone, or a zombie waiting for an init that does not reap (containers).
    let state = 'gone';
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];
    } catch {
      /* gone */
    }
    assert.ok(state === 'gone' || state === 'Z', `the background sleep was killed too (state ${state})`);
  });

  test('a command that cannot run is a failed reload, not a crash', async () => {
    const outcome = await runReloadCommand('/nonexistent/reload-proxy', 5_000, {});
    assert.equal(outcome.ok, false);
    assert.equal(outcome.code, 127);
    assert.match(outcome.output, /not found/);
  });
});

describe('the Envoy example', () => {
  test('SDS resources name the agent files and watch the directory whose ..data is switched', () => {
    const read = (f: string) =>
      parseYaml(readFileSync(new URL(`../../examples/proxies/envoy/${f}`, import.meta.url), 'utf8'));
    const bootstrap = read('bootstrap.yaml');
    const tls = bootstrap.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config;
    assert.equal(tls.require_client_certificate, true);
    const [cert] = read('sds-certificate.yaml').resources;
    const [bundle] = read('sds-trust-bundle.yaml').resources;
    assert.equal(tls.common_tls_context.tls_certificate_sds_secret_configs[0].name, cert.name);
    assert.equal(tls.common_tls_context.validation_context_sds_secret_config.name, bundle.name);
    const dir = cert.tls_certificate.watched_directory.path;
    assert.deepEqual(
      [
        cert.tls_certificate.certificate_chain.filename,
        cert.tls_certificate.private_key.filename,
        bundle.validation_context.trusted_ca.filename,
      ],
      [`${dir}/cert.pem`, `${dir}/key.pem`, `${dir}/ca.pem`],
    );
    assert.equal(bundle.validation_context.watched_directory.path, dir);
  });
});
