// Kuma 2.14.3's MeshIdentity/MeshTrust validator vectors (test/fixtures/kuma-2.14) against the pure rules, and the
// Go template and duration behaviour those rules stand on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { validateMeshIdentity, type MeshIdentitySpec } from '../../src/resources/mesh-identity.js';
import { validateMeshTrust, type MeshTrustSpec } from '../../src/resources/mesh-trust.js';
import { parseTemplate, renderTemplate } from '../../src/resources/go-template.js';
import { formatGoDuration, parseGoDuration } from '../../src/resources/go-duration.js';

interface Vector {
  id: string;
  resource: 'MeshIdentity' | 'MeshTrust';
  yaml: string;
  expect: { accept: boolean; violations?: { field: string; message: string }[] };
}
const vectors = parseYaml(
  readFileSync(new URL('../fixtures/kuma-2.14/meshidentity-meshtrust-validator.yaml', import.meta.url), 'utf8'),
) as Vector[];

/** YAML's `key:` with no value is null; Kuma's validator reads it as absent (the REST layer strips it the same way). */
const withoutNulls = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  return value;
};

describe("Kuma 2.14.3's validator vectors", () => {
  it('are all here: 10 MeshIdentity, 2 MeshTrust', () => {
    assert.equal(vectors.filter((v) => v.resource === 'MeshIdentity').length, 10);
    assert.equal(vectors.filter((v) => v.resource === 'MeshTrust').length, 2);
  });
  for (const v of vectors) {
    it(v.id, () => {
      const spec = withoutNulls(parseYaml(v.yaml));
      const violations =
        v.resource === 'MeshIdentity'
          ? validateMeshIdentity({ spec: spec as MeshIdentitySpec })
          : validateMeshTrust({ spec: spec as MeshTrustSpec });
      assert.deepEqual(violations, v.expect.accept ? [] : v.expect.violations);
    });
  }
});

describe('rules beyond the vectors', () => {
  it("a negative Spire agent timeout, at the path Kuma's code reports (added twice)", () => {
    assert.deepEqual(
      validateMeshIdentity({ spec: { provider: { type: 'Spire', spire: { agent: { timeout: '-1s' } } } } }),
      [{ field: 'spec.provider.spire.agent.spire.agent.timeout', message: 'must not be negative when defined' }],
    );
  });
  it('MeshTrust: a private key is not a certificate; any other PEM block passes, as Kuma', () => {
    const bundle = (value: string) => ({ spec: { trustDomain: 'a', caBundles: [{ type: 'Pem', pem: { value } }] } });
    assert.deepEqual(validateMeshTrust(bundle('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')), [
      { field: 'spec.caBundles[0].pem.value', message: 'provided certificate has incorrect format' },
    ]);
    assert.deepEqual(validateMeshTrust(bundle('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')), []);
  });
});

describe('Go templates (the SPIFFE ID subset)', () => {
  it("parses with Go's errors", () => {
    const error = (source: string) => {
      const parsed = parseTemplate(source, ['label']);
      return parsed.ok ? 'ok' : parsed.error;
    };
    assert.equal(error('{{ .Mesh }}.{{ .Zone }}.mesh.local'), 'ok');
    assert.equal(error('/workload/{{ label "kuma.io/workload" }}'), 'ok');
    assert.equal(error('{{ .Mesh|1 }}'), 'template: :1: non executable command in pipeline stage 2');
    assert.equal(error('{{ .Namespace|invalid }}'), 'template: :1: function "invalid" not defined');
    assert.equal(error('{{ .Mesh'), 'template: :1: unclosed action');
    assert.equal(error('a\n{{ }}'), 'template: :2: missing value for command');
    assert.equal(error('{{ printf "%s" .Mesh }}'), 'ok', "Go's builtins parse");
  });
  it('renders fields, strings and the label function; a failing function is an execution error', () => {
    const label = (labels: Record<string, string>) => (key: string) =>
      key in labels
        ? { ok: true as const, value: labels[key]! }
        : { ok: false as const, error: `label ${key} not found` };
    assert.deepEqual(
      renderTemplate('spiffe://{{ .TrustDomain }}/workload/{{ .Workload }}', {
        TrustDomain: 'd.default.mesh.local',
        Workload: 'web',
      }),
      {
        ok: true,
        value: 'spiffe://d.default.mesh.local/workload/web',
      },
    );
    assert.deepEqual(renderTemplate('/app/{{ label "app" }}', {}, { label: label({ app: 'web' }) }), {
      ok: true,
      value: '/app/web',
    });
    assert.deepEqual(renderTemplate('/app/{{ "app" | label }}', {}, { label: label({ app: 'web' }) }), {
      ok: true,
      value: '/app/web',
    });
    const missing = renderTemplate('/w/{{ label "kuma.io/workload" }}', {}, { label: label({}) });
    assert.deepEqual(missing, {
      ok: false,
      error:
        'template: :1: executing "" at <label "kuma.io/workload">: error calling label: label kuma.io/workload not found',
    });
    assert.equal(renderTemplate('{{ .Nope }}', { Mesh: 'm' }).ok, false);
  });
});

describe('Go durations', () => {
  it("parse and print as Go's time package", () => {
    const round = (s: string) => {
      const parsed = parseGoDuration(s);
      return parsed.ok ? formatGoDuration(parsed.nanos) : parsed.error;
    };
    assert.equal(round('24h'), '24h0m0s');
    assert.equal(round('90m'), '1h30m0s');
    assert.equal(round('1.5s'), '1.5s');
    assert.equal(round('300ms'), '300ms');
    assert.equal(round('0'), '0s');
    assert.equal(round('-1h'), '-1h0m0s');
    assert.equal(round('1d'), 'time: unknown unit "d" in duration "1d"');
    assert.equal(round('10'), 'time: missing unit in duration "10"');
    assert.equal(round(''), 'time: invalid duration ""');
  });
});
