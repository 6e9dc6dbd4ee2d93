// The two settings for Kuma's GUI: what start-up takes and what it refuses, with the variable named.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, corsOriginPattern, effectiveConfig, loadConfig } from '../../src/config.js';
import { createTestApp } from '../helpers/app.js';

describe('MESHCP_API_CORS_ALLOWED_DOMAINS and MESHCP_API_KUMA_GUI_DIR', () => {
  it('CORS: empty by default; entries are trimmed patterns the whole origin must match; a bad pattern stops the start', () => {
    assert.deepEqual(loadConfig({}).corsAllowedDomains, []);
    assert.deepEqual(
      loadConfig({ MESHCP_API_CORS_ALLOWED_DOMAINS: ' http://localhost:\\d+ , ,https://a\\.b ' }).corsAllowedDomains,
      ['http://localhost:\\d+', 'https://a\\.b'],
    );
    assert.equal(corsOriginPattern('https://a\\.b').test('https://a.b'), true);
    assert.equal(corsOriginPattern('https://a\\.b').test('https://a.b.evil'), false);
    assert.equal(
      corsOriginPattern('https://a|https://b').test('https://a.evil'),
      false,
      'alternatives are anchored too',
    );
    assert.throws(
      () => loadConfig({ MESHCP_API_CORS_ALLOWED_DOMAINS: 'https://(' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /MESHCP_API_CORS_ALLOWED_DOMAINS: "https:\/\/\(" is not a valid regular expression/.test(err.message),
    );
  });

  it('/config never shows the PostgreSQL password', () => {
    const config = loadConfig({
      MESHCP_STORE_TYPE: 'postgres',
      MESHCP_SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
      MESHCP_STORE_POSTGRES_PASSWORD: 'hunter2-secret',
    });
    const shown = JSON.stringify(effectiveConfig(config));
    assert.ok(!shown.includes('hunter2-secret'));
    assert.match(shown, /"password":"\*\*\*\*\*"/);
  });

  it('a GUI directory without index.html stops the start, naming the variable', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'meshcp-no-gui-'));
    try {
      await assert.rejects(
        createTestApp({ MESHCP_API_KUMA_GUI_DIR: empty }),
        /MESHCP_API_KUMA_GUI_DIR: .* holds no index.html/,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
