import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { providedBackend } from '../../src/ca/provided-backend.js';
import type { CaBackend, Violation } from '../../src/resources/index.js';
import { nextPooledRsaKeyPem } from '../helpers/rsa-key-pool.js';

/** Kuma 2.14.3's provided-CA validation cases replayed against meshcp (fixture: see its header). */
interface Expectation {
  name: string;
  violations: Violation[];
  difference?: string;
  meshcp?: Violation[];
  skip?: string;
}
interface ConfCase extends Expectation {
  conf: Record<string, unknown>;
}
interface CaCertCase extends Expectation {
  extensions?: string[];
  pem?: { cert: string; key: string };
  otherKey?: boolean;
  rsaBits?: number;
  expired?: boolean;
}
const fixture = parseYaml(
  readFileSync(new URL('../fixtures/kuma-2.14/provided-ca-validator.yaml', import.meta.url), 'utf8'),
) as {
  conf: ConfCase[];
  caCert: CaCertCase[];
};

/** As the Mesh PUT does: the conf's shape first, its material only for a well-formed conf. */
function meshcpViolations(conf: Record<string, unknown>, secrets: Map<string, string>, now = new Date()): Violation[] {
  const backend: CaBackend = { name: 'provided-1', type: 'provided', conf } as CaBackend;
  const shape = providedBackend.validateConf(backend);
  if (shape.length > 0) return shape;
  return providedBackend.validateMaterial(
    'default',
    backend,
    { read: (_mesh, name) => (secrets.has(name) ? Buffer.from(secrets.get(name)!) : undefined) },
    now,
  );
}

function check(c: Expectation, actual: Violation[], meshcp = c.meshcp ?? []): void {
  if (c.difference !== undefined) {
    assert.notDeepEqual(actual, c.violations, `listed as a difference by design but agrees with Kuma: ${c.difference}`);
    assert.deepEqual(actual, meshcp);
    return;
  }
  assert.deepEqual(actual, c.violations);
}

describe('Kuma 2.14.3 provided CA: backend conf cases', () => {
  for (const c of fixture.conf) {
    it(c.name, { skip: c.skip }, () => check(c, meshcpViolations(c.conf, new Map())));
  }
});

describe('Kuma 2.14.3 provided CA: CA certificate cases (certificates made by openssl)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'meshcp-kuma-ca-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * A self-signed certificate with exactly `extensions` (a config with no default extensions) and its key: a key of
   * the test key pool when it holds that size (openssl would spend ~100 ms making one), else one openssl makes.
   */
  function selfSigned(id: string, extensions: string[], rsaBits: number): { cert: string; key: string } {
    const config = join(dir, `${id}.cnf`);
    writeFileSync(
      config,
      [
        '[req]',
        'distinguished_name = dn',
        'prompt = no',
        '[dn]',
        'CN = kuma-case',
        '[ext]',
        'subjectKeyIdentifier = none',
        ...extensions.map((e) => e.replace('=', ' = ')),
      ].join('\n') + '\n',
    );
    const keyFile = join(dir, `${id}.key`);
    const certFile = join(dir, `${id}.pem`);
    const pooled = nextPooledRsaKeyPem(rsaBits);
    if (pooled) writeFileSync(keyFile, pooled, { mode: 0o600 });
    const key = pooled ? ['-key', keyFile] : ['-newkey', `rsa:${rsaBits}`, '-nodes', '-keyout', keyFile];
    execFileSync(
      'openssl',
      ['req', '-x509', '-config', config, '-extensions', 'ext', ...key, '-days', '30', '-out', certFile],
      { stdio: 'pipe' },
    );
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  }

  fixture.caCert.forEach((c, i) => {
    it(c.name, { skip: c.skip }, () => {
      let pair = c.pem;
      let meshcp = c.meshcp;
      let now: Date | undefined;
      if (!pair) {
        pair = selfSigned(`case-${i}`, c.extensions ?? [], c.rsaBits ?? 2048);
        const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: pair.cert }).toString();
        // The recipe holds: no extension sneaks in from a default config.
        assert.equal(
          /Basic Constraints/.test(text),
          (c.extensions ?? []).some((e) => e.startsWith('basicConstraints')),
        );
        assert.equal(
          /Key Usage/.test(text),
          (c.extensions ?? []).some((e) => e.startsWith('keyUsage')),
        );
        if (c.otherKey) pair = { cert: pair.cert, key: selfSigned(`case-${i}-other`, [], 2048).key };
        if (c.expired) {
          const notAfter = new Date(new X509Certificate(pair.cert).validTo);
          now = new Date(notAfter.getTime() + 24 * 3600 * 1000);
          meshcp = meshcp?.map((v) => ({ ...v, message: v.message.replace('<notAfter>', notAfter.toISOString()) }));
        }
      }
      const secrets = new Map([
        ['ca-cert', pair.cert],
        ['ca-key', pair.key],
      ]);
      // Checked after openssl made the certificate: its notBefore is this very second.
      check(
        c,
        meshcpViolations({ cert: { secret: 'ca-cert' }, key: { secret: 'ca-key' } }, secrets, now ?? new Date()),
        meshcp,
      );
    });
  });
});
