// Atomic file sets: certificate, key and bundle switch together through one `..data` symlink rename, so a reader
// never pairs a key with another version's certificate, and old versions do not pile up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { DATA_LINK, publishFileSet } from '../../src/agent/files.js';
import { createRootCaCertificate, issueLeafCertificate, loadCaSigner } from '../../src/ca/x509.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshcp-files-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rootPem = createRootCaCertificate({
  ...caKeys,
  subject: { O: 'test', OU: 'files', CN: 'root' },
  uriSan: 'spiffe://default',
  notBefore: new Date(Date.now() - 60_000),
  notAfter: new Date(Date.now() + 3_600_000),
});
const ca = loadCaSigner(rootPem, caKeys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);

/** A real leaf and its key, as one re-issue produces. */
function reissue(): { certPem: string; keyPem: string; caPem: string } {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = issueLeafCertificate({
    ca,
    subjectPublicKeyDer: keys.publicKey.export({ format: 'der', type: 'spki' }),
    publicKeyIsRsa: false,
    uris: ['spiffe://default/web'],
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
  });
  return {
    certPem: leaf.pem,
    keyPem: keys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    caPem: rootPem,
  };
}

const matches = (certPem: string, keyPem: string) =>
  new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));

describe('atomic file sets', () => {
  test('stable names are symlinks through ..data into one version directory; the keys are 0600', async () => {
    const out = join(dir, 'layout');
    const set = reissue();
    const version = await publishFileSet(out, set);
    assert.equal(readlinkSync(join(out, DATA_LINK)), version);
    for (const name of ['cert.pem', 'key.pem', 'ca.pem', 'cert-key.pem']) {
      assert.ok(lstatSync(join(out, name)).isSymbolicLink(), `${name} is a symlink`);
      assert.equal(readlinkSync(join(out, name)), join(DATA_LINK, name));
    }
    assert.equal(readFileSync(join(out, 'cert.pem'), 'utf8'), set.certPem);
    assert.equal(readFileSync(join(out, 'key.pem'), 'utf8'), set.keyPem);
    assert.equal(readFileSync(join(out, 'ca.pem'), 'utf8'), set.caPem);
    const combined = readFileSync(join(out, 'cert-key.pem'), 'utf8');
    assert.ok(matches(combined, combined), 'cert-key.pem holds the certificate and its key');
    assert.equal(statSync(join(out, 'key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(out, 'cert-key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(out, 'cert.pem')).mode & 0o777, 0o644);
  });

  test('regular files left by an older agent are replaced by the links; old versions and temp files are cleaned up', async () => {
    const out = join(dir, 'upgrade');
    mkdirSync(out);
    writeFileSync(join(out, 'cert.pem'), 'old');
    writeFileSync(join(out, '.ca.pem.abc.tmp'), 'crash leftover');
    const versions: string[] = [];
    for (let i = 0; i < 5; i++) versions.push(await publishFileSet(out, reissue()));
    assert.ok(lstatSync(join(out, 'cert.pem')).isSymbolicLink());
    // The current version and the one before it (for readers that resolved ..data just before the switch).
    const left = readdirSync(out).filter((e) => e.startsWith('..') && e !== DATA_LINK);
    assert.deepEqual(left.sort(), versions.slice(-2).sort());
    assert.ok(!readdirSync(out).some((e) => e.endsWith('.tmp')));
  });

  test('a reader in a tight loop never sees a mismatched pair during 100 re-issues', async () => {
    const out = join(dir, 'race');
    const first = reissue();
    await publishFileSet(out, first);
    const sets = Array.from({ length: 100 }, reissue);
    // Each certificate with the key it was issued for: a lookup, so the reader spends its turns reading, not parsing.
    const keyOf = new Map([first, ...sets].map((set) => [set.certPem, set.keyPem]));
    let reads = 0;
    let mismatched = 0;
    let versionGone = 0;
    let writing = true;
    // The documented way to read a consistent pair: resolve ..data once, read both files from that directory.
    const reader = (async () => {
      while (writing) {
        const resolved = await realpath(join(out, DATA_LINK));
        try {
          const [certPem, keyPem] = await Promise.all([
            readFile(join(resolved, 'cert.pem'), 'utf8'),
            readFile(join(resolved, 'key.pem'), 'utf8'),
          ]);
          reads++;
          if (keyOf.get(certPem) !== keyPem) mismatched++;
        } catch (err) {
          // A version two switches old was cleaned up under a slow reader: it reads again, never a mixed pair.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          versionGone++;
        }
      }
    })();
    for (const set of sets) {
      await publishFileSet(out, set);
      await yieldLoop();
    }
    writing = false;
    await reader;
    console.log(
      `file sets: ${reads} pair reads during 100 re-issues, ${mismatched} mismatched, ${versionGone} retried after cleanup`,
    );
    assert.equal(mismatched, 0);
    assert.ok(reads >= 100, `the reader read ${reads} pairs`);
    const last = sets.at(-1)!;
    assert.equal(readFileSync(join(realpathSync(join(out, DATA_LINK)), 'cert.pem'), 'utf8'), last.certPem);
  });
});
