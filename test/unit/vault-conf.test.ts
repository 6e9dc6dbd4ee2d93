import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateVaultConf, vaultConfSecretNames } from '../../src/resources/vault-conf.js';
import { renderCommonName } from '../../src/dataplanes/vault-issuance.js';
import { DomainError } from '../../src/domain/errors.js';

const fromCp = (over: Record<string, unknown> = {}) => ({
  fromCp: { address: 'https://vault:8200', auth: { token: { secret: 't' } }, pki: 'pki', role: 'dp', ...over },
});
const violations = (conf: unknown) => validateVaultConf(conf).violations.map((v) => [v.field, v.message]);

describe('vault backend conf', () => {
  it("accepts Kong Mesh's shape and normalises it", () => {
    const { conf, violations: v } = validateVaultConf(
      fromCp({
        address: 'https://vault:8200/',
        namespace: 'ns/child',
        tls: { serverName: 'vault' },
        commonName: '{{tag "kuma.io/service"}}.mesh',
      }),
    );
    assert.deepEqual(v, []);
    assert.deepEqual(conf, {
      fromCp: {
        address: 'https://vault:8200',
        namespace: 'ns/child',
        tls: { skipVerify: false, serverName: 'vault' },
        auth: { token: { secret: 't' } },
        pki: 'pki',
        role: 'dp',
        commonName: '{{tag "kuma.io/service"}}.mesh',
      },
    });
  });

  it('refuses addresses that are not scheme, host and port', () => {
    assert.deepEqual(violations(fromCp({ address: 'vault:8200' })), [
      ['fromCp.address', 'has to use https (or http for a local Vault agent)'],
    ]);
    assert.deepEqual(violations(fromCp({ address: 'https://vault:8200/v1' })), [
      ['fromCp.address', 'has to be scheme, host and port only (the API path /v1 is added by meshcp)'],
    ]);
    assert.deepEqual(violations(fromCp({ address: 'https://user:pw@vault' })), [
      ['fromCp.address', 'has to be scheme, host and port only (the API path /v1 is added by meshcp)'],
    ]);
    assert.deepEqual(violations(fromCp({ address: 'nope' })), [
      ['fromCp.address', 'has to be a URL such as https://vault.example:8200'],
    ]);
  });

  it('refuses paths that would leave the mount, and a role with a slash', () => {
    assert.deepEqual(violations(fromCp({ pki: '../sys' })), [
      ['fromCp.pki', 'has to be a Vault path: segments of letters, digits, ".", "-" and "_" separated by "/"'],
    ]);
    assert.deepEqual(violations(fromCp({ role: 'a/b' })), [['fromCp.role', 'has to be a role name, without "/"']]);
    assert.deepEqual(violations(fromCp({ role: '' })), [['fromCp.role', 'cannot be empty']]);
  });

  it('needs exactly one auth method, each credential a data source', () => {
    assert.deepEqual(violations(fromCp({ auth: {} })), [
      ['fromCp.auth', 'exactly one of token, tls has to be defined'],
    ]);
    assert.deepEqual(violations(fromCp({ auth: { token: { secret: 'a' }, tls: {} } })), [
      ['fromCp.auth', 'exactly one of token, tls has to be defined'],
    ]);
    assert.deepEqual(violations(fromCp({ auth: { tls: { clientCert: { secret: 'c' } } } })), [
      ['fromCp.auth.tls.clientKey', 'has to be defined'],
    ]);
    assert.deepEqual(violations(fromCp({ auth: { token: { secret: 'a', inline: 'YQ==' } } })), [
      ['fromCp.auth.token', 'only one data source can be chosen, got: secret, inline'],
    ]);
    assert.deepEqual(violations(fromCp({ agentAddress: 'http://127.0.0.1:8100' })), [
      ['fromCp.agentAddress', 'is not supported: meshcp dataplanes never talk to Vault (leave it empty)'],
    ]);
  });

  it('names the secrets it reads', () => {
    const { conf } = validateVaultConf(
      fromCp({
        tls: { caCert: { secret: 'ca' } },
        auth: { tls: { clientCert: { secret: 'c' }, clientKey: { secret: 'k' } } },
      }),
    );
    assert.deepEqual(vaultConfSecretNames(conf!), ['ca', 'c', 'k']);
  });

  it('renders {{ tag }} with the one value of that tag, and refuses when there is not exactly one', () => {
    const dp = (tags: Record<string, string>[]) =>
      ({ networking: { address: '1.1.1.1', inbound: tags.map((t, i) => ({ port: 1000 + i, tags: t })) } }) as any;
    assert.equal(
      renderCommonName(
        '{{ tag "kuma.io/service" }}.{{tag "zone"}}.mesh',
        dp([{ 'kuma.io/service': 'web', zone: 'eu' }]),
      ),
      'web.eu.mesh',
    );
    assert.throws(
      () => renderCommonName('{{ tag "zone" }}', dp([{ 'kuma.io/service': 'web' }])),
      (err: DomainError) => err.kind === 'conflict' && /has none/.test(err.detail),
    );
    assert.throws(
      () =>
        renderCommonName('{{ tag "kuma.io/service" }}', dp([{ 'kuma.io/service': 'a' }, { 'kuma.io/service': 'b' }])),
      /2 \(a, b\)/,
    );
  });
});
