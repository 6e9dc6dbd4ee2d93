import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { knownBackendTypes } from '../../src/ca/backend-registry.js';
import { MeshSchema, parseShape, validateMeshStructure, type Violation } from '../../src/resources/index.js';

/** Kuma 2.14.3's Mesh validator cases that touch mtls, replayed against meshcp (fixture: see its header). */
interface KumaCase {
  name: string;
  manifest: Record<string, unknown>;
  violations: Violation[];
  skip?: string;
  difference?: string;
  meshcp?: Violation[];
}

const cases = parseYaml(readFileSync(new URL('../fixtures/kuma-2.14/mesh-mtls-validator.yaml', import.meta.url), 'utf8')) as KumaCase[];

/** meshcp's spec violations of a Mesh, restricted to what Kuma's table compares (mtls, or an unknown field). */
function meshcpViolations(spec: Record<string, unknown>): Violation[] {
  const shape = parseShape(MeshSchema, { type: 'Mesh', name: 'default', ...spec });
  if (!shape.ok) return shape.violations;
  return validateMeshStructure(shape.value, knownBackendTypes);
}

describe('Kuma 2.14.3 mesh mtls validator cases', () => {
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
