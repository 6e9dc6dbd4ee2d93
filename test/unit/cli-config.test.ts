// meshctl's inputs: where the address and token come from, and how manifests become API writes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  configFilePath,
  ConfigFileError,
  DEFAULT_ADDRESS,
  parseConfigFile,
  resolveConnection,
} from '../../src/cli/config.js';
import { ManifestError, parseManifests, planApply } from '../../src/cli/manifests.js';
import { itemPath, listPath, resourceTypeByName, UsageError } from '../../src/cli/resources.js';

function files(map: Record<string, string>) {
  return {
    readFile: (p: string) =>
      map[p] ??
      (() => {
        throw new Error(`ENOENT ${p}`);
      })(),
    exists: (p: string) => p in map,
    home: '/home/u',
  };
}

describe('connection settings', () => {
  test('default address, no token', () => {
    assert.deepEqual(resolveConnection({}, { env: {}, ...files({}) }), {
      addresses: [DEFAULT_ADDRESS],
      insecure: false,
      source: 'default',
    });
  });

  test('precedence: flag > env > config file', () => {
    const fs = files({ '/home/u/.config/meshcp/meshctl.yaml': 'address: http://from-file:1\ntoken: file-token\n' });
    const env = { MESHCP_ADDRESS: 'http://from-env:2/', MESHCP_TOKEN: 'env-token' };
    assert.deepEqual(resolveConnection({}, { env: {}, ...fs }), {
      addresses: ['http://from-file:1'],
      token: 'file-token',
      insecure: false,
      source: 'config',
      configFile: '/home/u/.config/meshcp/meshctl.yaml',
    });
    const fromEnv = resolveConnection({}, { env, ...fs });
    assert.deepEqual([fromEnv.addresses, fromEnv.token, fromEnv.source], [['http://from-env:2'], 'env-token', 'env']);
    const fromFlags = resolveConnection({ address: 'http://flag:3', token: 'flag-token' }, { env, ...fs });
    assert.deepEqual(
      [fromFlags.addresses, fromFlags.token, fromFlags.source],
      [['http://flag:3'], 'flag-token', 'flag'],
    );
  });

  test('token files: --token-file, and tokenFile in the config; MESHCTL_CONFIG chooses the file', () => {
    const fs = files({
      '/etc/meshctl.yaml': 'tokenFile: /data/admin-token\ncaCert: /data/ca.pem\n',
      '/data/admin-token': 'secret\n',
      '/data/ca.pem': 'PEM',
      '/t': 'flag-file\n',
    });
    const env = { MESHCTL_CONFIG: '/etc/meshctl.yaml' };
    const fromConfig = resolveConnection({}, { env, ...fs });
    assert.deepEqual([fromConfig.token, fromConfig.caPem], ['secret', 'PEM']);
    assert.equal(resolveConnection({ tokenFile: '/t' }, { env, ...fs }).token, 'flag-file');
    assert.equal(resolveConnection({}, { env: { ...env, MESHCP_TOKEN_FILE: '/t' }, ...fs }).token, 'flag-file');
    assert.throws(() => resolveConnection({}, { env: { MESHCTL_CONFIG: '/nope' }, ...fs }), ConfigFileError);
  });

  test('several addresses: comma separated, a repeated flag, a list in the config file; normalized, in order, once each', () => {
    const fs = files({ '/home/u/.config/meshcp/meshctl.yaml': 'address:\n- cp-1:5681\n- http://cp-2:5681/\n' });
    assert.deepEqual(resolveConnection({}, { env: {}, ...fs }).addresses, ['http://cp-1:5681', 'http://cp-2:5681']);
    const env = { MESHCP_ADDRESS: 'http://a:1, b:2,,http://a:1' };
    assert.deepEqual(resolveConnection({}, { env, ...fs }).addresses, ['http://a:1', 'http://b:2']);
    assert.deepEqual(resolveConnection({ address: ['x:1,y:2', 'https://z:3'] }, { env, ...fs }).addresses, [
      'http://x:1',
      'http://y:2',
      'https://z:3',
    ]);
    const flat = files({ '/home/u/.config/meshcp/meshctl.yaml': 'address: "cp-1:5681,cp-2:5681"\n' });
    assert.deepEqual(resolveConnection({}, { env: {}, ...flat }).addresses, ['http://cp-1:5681', 'http://cp-2:5681']);
    assert.throws(
      () => resolveConnection({ address: [' , '] }, { env: {}, ...flat }),
      /--address: no control-plane address given/,
    );
    assert.throws(
      () => resolveConnection({}, { env: { MESHCP_ADDRESS: 'ftp://x' }, ...flat }),
      /MESHCP_ADDRESS: .*http:\/\/ or https:\/\//,
    );
    assert.throws(() => parseConfigFile('address: [1, 2]', 'f'), /address must be a string or a list of strings/);
  });

  test('config file path and shape', () => {
    assert.equal(configFilePath({}, '/h'), '/h/.config/meshcp/meshctl.yaml');
    assert.equal(configFilePath({ XDG_CONFIG_HOME: '/x' }, '/h'), '/x/meshcp/meshctl.yaml');
    assert.deepEqual(parseConfigFile('', 'f'), {});
    assert.throws(() => parseConfigFile('- a', 'f'), /expected a map/);
    assert.throws(() => parseConfigFile('token: 3', 'f'), /token must be a string/);
    assert.throws(() => parseConfigFile('a: [', 'f'), /not valid YAML/);
  });
});

describe('resource types and routes', () => {
  test('plural, singular and kumactl aliases', () => {
    assert.equal(resourceTypeByName('meshes').kind, 'Mesh');
    assert.equal(resourceTypeByName('mesh').kind, 'Mesh');
    assert.equal(resourceTypeByName('global-secrets').kind, 'GlobalSecret');
    assert.equal(resourceTypeByName('dp').kind, 'Dataplane');
    assert.throws(() => resourceTypeByName('zones'), UsageError);
  });

  test('routes', () => {
    assert.equal(itemPath(resourceTypeByName('secret'), 'ca-2-cert', 'default'), '/meshes/default/secrets/ca-2-cert');
    assert.equal(itemPath(resourceTypeByName('global-secret'), 'g', ''), '/global-secrets/g');
    assert.equal(listPath(resourceTypeByName('dataplanes'), undefined), '/dataplanes');
    assert.equal(listPath(resourceTypeByName('dataplanes'), 'm'), '/meshes/m/dataplanes');
    assert.equal(listPath(resourceTypeByName('secrets'), undefined), '/secrets');
  });
});

describe('manifests', () => {
  test('several YAML documents, each to its route; mesh-scoped ones default to mesh "default"', () => {
    const text = [
      'type: Secret\nname: ca-2-cert\ndata: YQ==',
      'type: GlobalSecret\nname: g\ndata: Yg==',
      'type: Mesh\nname: default\ncreationTime: "2026-01-01T00:00:00Z"\nmtls:\n  enabledBackend: ca-1\n  backends:\n  - name: ca-1\n    type: builtin',
      '# only a comment',
      'type: Dataplane\nmesh: other\nname: web-1\nnetworking:\n  address: 127.0.0.1',
    ].join('\n---\n');
    const items = planApply(parseManifests(text, 'f.yaml'));
    assert.deepEqual(
      items.map((i) => [i.label, i.path]),
      [
        ['Secret default/ca-2-cert', '/meshes/default/secrets/ca-2-cert'],
        ['GlobalSecret g', '/global-secrets/g'],
        ['Mesh default', '/meshes/default'],
        ['Dataplane other/web-1', '/meshes/other/dataplanes/web-1'],
      ],
    );
    assert.equal(items[0].body.mesh, 'default');
    assert.equal(items[2].body.creationTime, undefined);
    assert.equal(items[1].body.mesh, undefined);
  });

  test('JSON, JSON arrays and `get -o yaml` lists', () => {
    assert.equal(parseManifests('{"type":"Mesh","name":"a"}', 'x').length, 1);
    assert.equal(parseManifests('[{"type":"Mesh","name":"a"},{"type":"Mesh","name":"b"}]', 'x').length, 2);
    assert.deepEqual(
      parseManifests('total: 2\nitems:\n- type: Mesh\n  name: a\n- type: Mesh\n  name: b\nnext: null\n', 'x').map(
        (d) => d.name,
      ),
      ['a', 'b'],
    );
  });

  test('readable errors for bad input', () => {
    assert.throws(
      () => parseManifests('a: [', 'f.yaml'),
      (e: unknown) => e instanceof ManifestError && /f\.yaml: document 1 is not valid YAML or JSON/.test(e.message),
    );
    assert.throws(() => planApply([{ name: 'x' }]), /document 1: missing "type"/);
    assert.throws(
      () => planApply([{ type: 'MeshTrafficPermission', name: 'x' }]),
      /unsupported type "MeshTrafficPermission"/,
    );
    assert.throws(() => planApply([{ type: 'Mesh' }]), /Mesh without a "name"/);
    assert.throws(() => parseManifests('42', 'f'), /expected a resource object/);
  });
});
