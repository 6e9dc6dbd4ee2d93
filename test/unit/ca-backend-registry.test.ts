import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { caBackendPlugins, knownBackendTypes, sealedConfFields } from '../../src/ca/backend-registry.js';

describe('CA backend registry', () => {
  test('every registered type issues and names the conf fields the store seals', () => {
    assert.deepEqual([...knownBackendTypes], ['builtin', 'provided', 'vault']);
    for (const plugin of caBackendPlugins.values()) {
      assert.equal(typeof plugin.issuer, 'function', plugin.type);
      assert.ok(Array.isArray(plugin.sealedFields), plugin.type);
    }
    assert.deepEqual(caBackendPlugins.get('builtin')!.sealedFields, []);
    assert.deepEqual(caBackendPlugins.get('provided')!.sealedFields, ['cert', 'key']);
  });

  test('the store seals every inline data source that may hold a key or a credential', () => {
    assert.deepEqual(sealedConfFields, [
      'cert',
      'key',
      'fromCp.tls.caCert',
      'fromCp.auth.token',
      'fromCp.auth.tls.clientCert',
      'fromCp.auth.tls.clientKey',
    ]);
  });
});
