import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  DataplaneSchema,
  SecretSchema,
  dataplaneProxyType,
  dataplaneServices,
  dataplaneSpiffeUris,
  dataplaneTags,
  parseShape,
  validateDataplane,
  validateMeshReference,
  validateResourceName,
  type Dataplane,
} from '../../src/resources/index.js';

const EXAMPLES = new URL('../../examples/', import.meta.url);

function dp(input: unknown): Dataplane {
  const r = parseShape(DataplaneSchema, input);
  if (!r.ok) assert.fail(`shape error: ${JSON.stringify(r.violations)}`);
  return r.value;
}

function networking(n: unknown, extra: Record<string, unknown> = {}): Dataplane {
  return dp({ type: 'Dataplane', mesh: 'default', name: 'dp-1', networking: n, ...extra });
}

const web = { port: 20001, servicePort: 8080, tags: { 'kuma.io/service': 'web' } };

describe('Dataplane example', () => {
  it('dataplane-web-1.yaml parses and validates clean', () => {
    const d = dp(parseYaml(readFileSync(new URL('dataplane-web-1.yaml', EXAMPLES), 'utf8')));
    assert.equal(d.type, 'Dataplane');
    assert.deepEqual(validateResourceName(d.name), []);
    assert.deepEqual(validateMeshReference(d.mesh), []);
    assert.deepEqual(validateDataplane(d), []);
    assert.deepEqual(dataplaneSpiffeUris(d.mesh, d), [
      'spiffe://default/web',
      'kuma://kuma.io/service/web',
      'kuma://version/v1',
    ]);
  });

  it('the secret examples are refused until their placeholder is replaced with base64', () => {
    for (const file of ['secret-ca-2-cert.yaml', 'secret-ca-2-key.yaml']) {
      const body = parseYaml(readFileSync(new URL(file, EXAMPLES), 'utf8')) as Record<string, unknown>;
      assert.ok(!parseShape(SecretSchema, body).ok, file);
      assert.ok(
        parseShape(SecretSchema, { ...body, data: Buffer.from('-----BEGIN CERTIFICATE-----\n').toString('base64') }).ok,
      );
    }
  });
});

describe('Dataplane shape', () => {
  it('keeps Kuma Universal fields and refuses unknown ones (a typo is never silently dropped)', () => {
    const input = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'dp-1',
      networking: {
        address: '10.0.0.1',
        advertisedAddress: '192.168.0.1',
        inbound: [
          {
            port: 1,
            servicePort: 2,
            serviceAddress: '127.0.0.1',
            tags: { 'kuma.io/service': 'a' },
            health: { ready: true },
            state: 'Ready',
            name: 'http',
          },
        ],
        outbound: [{ port: 10001, tags: { 'kuma.io/service': 'b' } }],
        admin: { port: 9901 },
        transparentProxying: { redirectPortInbound: 15006 },
      },
    };
    assert.deepEqual(dp(input), input);
    const r = parseShape(DataplaneSchema, { ...input, status: 'whatever' });
    assert.deepEqual(r.ok ? [] : r.violations, [{ field: 'status', message: 'unknown field "status"' }]);
  });

  it('refuses wrong JSON types', () => {
    for (const n of [
      { address: 1 },
      { inbound: [{ port: '80' }] },
      { inbound: [{ port: 1.5 }] },
      { inbound: [{ tags: { a: 1 } }] },
      { gateway: { type: 'WEIRD' } },
      { inbound: {} },
    ]) {
      assert.ok(
        !parseShape(DataplaneSchema, { type: 'Dataplane', name: 'x', mesh: 'm', networking: n }).ok,
        JSON.stringify(n),
      );
    }
    const r = parseShape(DataplaneSchema, { networking: { inbound: [{ port: 1, tags: { 'kuma.io/service': 7 } }] } });
    assert.ok(!r.ok);
    assert.equal(r.violations[0]!.field, 'networking.inbound[0].tags["kuma.io/service"]');
  });
});

describe('validateDataplane', () => {
  it('requires networking', () => {
    assert.deepEqual(validateDataplane(dp({ type: 'Dataplane', mesh: 'default', name: 'x' })), [
      { field: 'networking', message: 'must be defined' },
    ]);
  });

  it('checks the address', () => {
    assert.deepEqual(validateDataplane(networking({ inbound: [web] })), [
      { field: 'networking.address', message: "address can't be empty" },
    ]);
    assert.deepEqual(validateDataplane(networking({ address: '0.0.0.0', inbound: [web] })), [
      { field: 'networking.address', message: 'must not be 0.0.0.0 or ::' },
    ]);
    assert.deepEqual(validateDataplane(networking({ address: '::', inbound: [web] })), [
      { field: 'networking.address', message: 'must not be 0.0.0.0 or ::' },
    ]);
    assert.deepEqual(validateDataplane(networking({ address: 'not an address!', inbound: [web] })), [
      { field: 'networking.address', message: 'address has to be valid IP address or domain name' },
    ]);
    for (const address of ['10.0.0.1', '::1', 'fd00::5', 'web.internal', 'my_host', 'localhost']) {
      assert.deepEqual(validateDataplane(networking({ address, inbound: [web] })), [], address);
    }
  });

  it('accepts a dataplane without inbound (outbound-only or transparent proxy, as Kuma 2.14)', () => {
    assert.deepEqual(validateDataplane(networking({ address: '10.0.0.1' })), []);
    assert.deepEqual(
      validateDataplane(networking({ address: '10.0.0.1', gateway: { tags: { 'kuma.io/service': 'edge' } } })),
      [],
    );
  });

  it('requires a kuma.io/service tag on every inbound that has tags (an untagged inbound is valid in Kuma 2.14)', () => {
    const n = { address: '10.0.0.1', inbound: [web, { port: 20002, tags: { version: 'v1' } }, { port: 20003 }] };
    assert.deepEqual(validateDataplane(networking(n)), [
      { field: 'networking.inbound[1].tags["kuma.io/service"]', message: 'tag has to exist' },
    ]);
  });

  it('checks inbound ports', () => {
    const n = {
      address: '10.0.0.1',
      inbound: [
        { tags: { 'kuma.io/service': 'a' } },
        { port: 70000, servicePort: 0, tags: { 'kuma.io/service': 'a' } },
        { port: 1, servicePort: 65536, tags: { 'kuma.io/service': 'a' } },
        { port: -1, tags: { 'kuma.io/service': 'a' } },
      ],
    };
    assert.deepEqual(validateDataplane(networking(n)), [
      { field: 'networking.inbound[0].port', message: 'port must be in the range [1, 65535]' },
      { field: 'networking.inbound[1].port', message: 'port must be in the range [1, 65535]' },
      { field: 'networking.inbound[2].servicePort', message: 'port must be in the range [1, 65535]' },
      { field: 'networking.inbound[3].port', message: 'port must be in the range [1, 65535]' },
    ]);
  });

  it('checks inbound addresses', () => {
    const n = {
      address: '10.0.0.1',
      inbound: [
        { port: 1, serviceAddress: 'localhost', address: 'eth0', tags: { 'kuma.io/service': 'a' } },
        { port: 2, serviceAddress: '10.0.0.1', tags: { 'kuma.io/service': 'a' } },
        { port: 3, servicePort: 3, serviceAddress: '10.0.0.2', address: '10.0.0.2', tags: { 'kuma.io/service': 'a' } },
        { port: 4, servicePort: 5, serviceAddress: '10.0.0.1', tags: { 'kuma.io/service': 'a' } },
      ],
    };
    assert.deepEqual(validateDataplane(networking(n)), [
      { field: 'networking.inbound[0].serviceAddress', message: 'serviceAddress has to be valid IP address' },
      { field: 'networking.inbound[0].address', message: 'address has to be valid IP address' },
      {
        field: 'networking.inbound[1].serviceAddress',
        message: 'serviceAddress and servicePort has to differ from address and port',
      },
      {
        field: 'networking.inbound[2].serviceAddress',
        message: 'serviceAddress and servicePort has to differ from address and port',
      },
    ]);
  });

  it('checks tag names and values', () => {
    const n = {
      address: '10.0.0.1',
      inbound: [{ port: 1, tags: { 'kuma.io/service': 'web', 'bad key': 'v', version: '', team: 'a/b', '': 'x' } }],
    };
    assert.deepEqual(validateDataplane(networking(n)), [
      { field: 'networking.inbound[0].tags', message: 'tag name must be non-empty' },
      {
        field: 'networking.inbound[0].tags["bad key"]',
        message: 'tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores',
      },
      {
        field: 'networking.inbound[0].tags["team"]',
        message: 'tag value must consist of alphanumeric characters, dots, dashes and underscores',
      },
      { field: 'networking.inbound[0].tags["version"]', message: 'tag value must be non-empty' },
    ]);
  });

  it('checks the inbound protocol tag', () => {
    const ok = {
      address: '10.0.0.1',
      inbound: [{ port: 1, tags: { 'kuma.io/service': 'web', 'kuma.io/protocol': 'http' } }],
    };
    assert.deepEqual(validateDataplane(networking(ok)), []);
    const bad = {
      address: '10.0.0.1',
      inbound: [{ port: 1, tags: { 'kuma.io/service': 'web', 'kuma.io/protocol': 'smtp' } }],
    };
    assert.deepEqual(validateDataplane(networking(bad)), [
      {
        field: 'networking.inbound[0].tags["kuma.io/protocol"]',
        message: 'tag "kuma.io/protocol" has an invalid value "smtp". Allowed values: grpc, http, http2, kafka, tcp',
      },
    ]);
  });

  it('checks outbounds', () => {
    const n = {
      address: '10.0.0.1',
      inbound: [web],
      outbound: [
        { port: 10001 },
        { port: 10002, service: 'legacy' },
        { port: 0, address: 'x', tags: { version: 'v1' } },
        { port: 10004, tags: { 'kuma.io/service': 'b' }, backendRef: { kind: 'MeshService', name: 'b', port: 80 } },
        { port: 10005, backendRef: { kind: 'Other' } },
        { port: 10006, backendRef: { kind: 'MeshExternalService', name: 'ext' } },
      ],
    };
    assert.deepEqual(validateDataplane(networking(n)), [
      { field: 'networking.outbound[0].tags', message: 'mandatory tag "kuma.io/service" is missing' },
      { field: 'networking.outbound[2].port', message: 'port must be in the range [1, 65535]' },
      { field: 'networking.outbound[2].address', message: 'address has to be valid IP address' },
      { field: 'networking.outbound[2].tags', message: 'mandatory tag "kuma.io/service" is missing' },
      { field: 'networking.outbound[3].backendRef', message: 'both backendRef and tags/service cannot be defined' },
      {
        field: 'networking.outbound[4].backendRef.kind',
        message: 'invalid value. Available values are: MeshExternalService,MeshMultiZoneService,MeshService',
      },
      { field: 'networking.outbound[4].backendRef', message: "either 'name' or 'labels' should be specified" },
      { field: 'networking.outbound[4].backendRef.port', message: 'port must be in the range [1, 65535]' },
    ]);
  });

  it('checks gateways', () => {
    assert.deepEqual(validateDataplane(networking({ address: '10.0.0.1', gateway: { tags: { version: 'v1' } } })), [
      { field: 'networking.gateway.tags', message: 'mandatory tag "kuma.io/service" is missing' },
    ]);
    assert.deepEqual(
      validateDataplane(
        networking({
          address: '10.0.0.1',
          gateway: { tags: { 'kuma.io/service': 'edge', 'kuma.io/protocol': 'http' } },
        }),
      ),
      [
        {
          field: 'networking.gateway.tags["kuma.io/protocol"]',
          message: 'other values than tcp are not allowed, provided value "http"',
        },
      ],
    );
    assert.deepEqual(
      validateDataplane(
        networking({ address: '10.0.0.1', gateway: { tags: { 'kuma.io/service': 'edge' } }, inbound: [web] }),
      ),
      [{ field: 'networking.inbound', message: 'inbound cannot be defined for delegated gateways' }],
    );
    const builtin = networking(
      {
        address: '10.0.0.1',
        gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'edge' } },
        inbound: [web],
        outbound: [{ port: 1, tags: { 'kuma.io/service': 'b' } }],
      },
      { probes: { port: 9000 } },
    );
    assert.deepEqual(validateDataplane(builtin), [
      { field: 'networking.inbound', message: 'inbound cannot be defined for builtin gateways' },
      { field: 'networking.outbound', message: 'outbound cannot be defined for builtin gateways' },
      { field: 'networking.probes', message: 'probes cannot be defined for builtin gateways' },
    ]);
  });
});

describe('dataplane identity', () => {
  const d = networking({
    address: '10.0.0.1',
    inbound: [
      { port: 1, tags: { 'kuma.io/service': 'web-api', version: 'v2', zone: 'b' } },
      { port: 2, tags: { 'kuma.io/service': 'web', version: 'v1' } },
      { port: 3, tags: { 'kuma.io/service': 'web', version: 'v1', 'kuma.io/protocol': 'http' } },
    ],
  });

  it('unions inbound tags', () => {
    const tags = dataplaneTags(d);
    assert.deepEqual([...tags.get('kuma.io/service')!].sort(), ['web', 'web-api']);
    assert.deepEqual([...tags.get('version')!].sort(), ['v1', 'v2']);
    assert.deepEqual(dataplaneServices(d), ['web', 'web-api']);
  });

  it('orders SANs as Kuma: spiffe per service, then kuma:// by tag then value', () => {
    assert.deepEqual(dataplaneSpiffeUris('default', d), [
      'spiffe://default/web',
      'spiffe://default/web-api',
      'kuma://kuma.io/protocol/http',
      'kuma://kuma.io/service/web',
      'kuma://kuma.io/service/web-api',
      'kuma://version/v1',
      'kuma://version/v2',
      'kuma://zone/b',
    ]);
  });

  it('includes gateway tags', () => {
    const g = networking({ address: '10.0.0.1', gateway: { tags: { 'kuma.io/service': 'edge', region: 'eu' } } });
    assert.deepEqual(dataplaneSpiffeUris('prod', g), [
      'spiffe://prod/edge',
      'kuma://kuma.io/service/edge',
      'kuma://region/eu',
    ]);
    // As Kuma's kuma.io/proxy-type: only a builtin gateway is a `gateway` proxy; a delegated one is a sidecar.
    assert.equal(dataplaneProxyType(g), 'sidecar');
    assert.equal(
      dataplaneProxyType(
        networking({ address: '10.0.0.1', gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'edge' } } }),
      ),
      'gateway',
    );
    assert.equal(dataplaneProxyType(d), 'sidecar');
  });

  it('gives no SANs to a dataplane without tags', () => {
    assert.deepEqual(dataplaneSpiffeUris('default', networking({ address: '10.0.0.1' })), []);
  });
});
