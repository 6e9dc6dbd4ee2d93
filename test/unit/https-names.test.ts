// The generated HTTPS certificate names what remote clients dial: MESHCP_API_HTTPS_HOSTNAMES, and on 0.0.0.0 the host
// name and interface addresses; it is regenerated when that set changes. Checked with a real TLS handshake.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, test } from 'node:test';
import { loadServerTls } from '../../src/bootstrap.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { serverCertNames } from '../../src/ops/server-cert-names.js';

const dir = mkdtempSync(join(tmpdir(), 'meshcp-https-names-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Whether a client that trusts `cert` and dials `servername` accepts the server's certificate. */
async function handshake(tls: { key: string; cert: string }, servername: string): Promise<string> {
  const server = createServer(tls, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    return await new Promise((resolve) => {
      const socket = connect(
        { host: '127.0.0.1', port, servername, ca: tls.cert },
        () => (socket.end(), resolve('ok')),
      );
      socket.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
    });
  } finally {
    server.close();
  }
}

test('MESHCP_API_HTTPS_HOSTNAMES names and IPs are in the certificate; a changed list regenerates it', async () => {
  const env = { MESHCP_DATA_DIR: dir, MESHCP_API_HTTPS_HOSTNAMES: 'cp.example.com, 10.1.2.3' };
  const first = loadServerTls(loadConfig(env));
  const san = new X509Certificate(first.cert).subjectAltName ?? '';
  assert.match(san, /DNS:cp\.example\.com/);
  assert.match(san, /IP Address:10\.1\.2\.3/);
  assert.match(san, /DNS:localhost/);
  assert.equal(await handshake(first, 'cp.example.com'), 'ok');
  assert.equal(await handshake(first, 'other.example.com'), 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.equal(loadServerTls(loadConfig(env)).cert, first.cert, 'same names: the same certificate');
  const second = loadServerTls(loadConfig({ ...env, MESHCP_API_HTTPS_HOSTNAMES: 'cp2.example.com' }));
  assert.notEqual(second.cert, first.cert);
  assert.equal(await handshake(second, 'cp2.example.com'), 'ok');
  assert.equal(readFileSync(join(dir, 'server-cert.pem'), 'utf8'), second.cert);
});

test('bound to 0.0.0.0: the host name and the interface addresses by default', () => {
  const names = serverCertNames('0.0.0.0', [], {
    hostname: () => 'cp-host',
    interfaces: () => ['127.0.0.1', '192.168.1.20', 'fd00::5'],
  });
  assert.deepEqual(names, {
    dnsNames: ['cp-host', 'localhost'],
    ipAddresses: ['127.0.0.1', '192.168.1.20', '::1', 'fd00::5'],
  });
  assert.deepEqual(serverCertNames('10.0.0.7', []).ipAddresses, ['10.0.0.7', '127.0.0.1', '::1']);
});

test('a bad entry is a configuration error naming it', () => {
  assert.throws(
    () => loadConfig({ MESHCP_API_HTTPS_HOSTNAMES: 'ok.example.com,not a name' }),
    (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, 'MESHCP_API_HTTPS_HOSTNAMES: "not a name" is neither a DNS name nor an IP address');
      return true;
    },
  );
});
