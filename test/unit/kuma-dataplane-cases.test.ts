import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DataplaneSchema, parseShape, validateDataplane, type Violation } from '../../src/resources/index.js';

/** Kuma 2.14.3's own Dataplane validator table, replayed against meshcp's validator (fixture: see its header). */
interface KumaCase {
  name: string;
  manifest: unknown;
  violations: Violation[];
  skip?: string;
  difference?: string;
  meshcp?: Violation[];
}

const cases = parseYaml(readFileSync(new URL('../fixtures/kuma-2.14/dataplane-validator.yaml', import.meta.url), 'utf8')) as KumaCase[];

function meshcpViolations(manifest: unknown): Violation[] {
  const shape = parseShape(DataplaneSchema, manifest);
  if (!shape.ok) return shape.violations;
  return validateDataplane(shape.value);
}

describe('Kuma 2.14.3 dataplane validator cases', () => {
  it('the table is complete (every Kuma entry plus the service-tag cases)', () => {
    assert.ok(cases.length >= 80, `${cases.length} cases`);
  });
  for (const c of cases) {
    it(c.name, { skip: c.skip }, () => {
      const actual = meshcpViolations(c.manifest);
      if (c.difference !== undefined) {
        assert.notDeepEqual(actual, c.violations, `listed as a difference by design but agrees with Kuma: ${c.difference}`);
        assert.deepEqual(actual, c.meshcp ?? []);
        return;
      }
      assert.deepEqual(actual, c.violations);
    });
  }
});
