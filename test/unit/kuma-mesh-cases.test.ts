import { describe } from 'node:test';
import { knownBackendTypes } from '../../src/ca/backend-registry.js';
import { MeshSchema, parseShape, validateMeshStructure, type Violation } from '../../src/resources/index.js';
import { readKumaCases, replayKumaCases } from '../helpers/kuma-cases.js';

/** meshcp's spec violations of a Mesh, restricted to what Kuma's table compares (mtls, or an unknown field). */
function meshcpViolations(spec: Record<string, unknown>): Violation[] {
  const shape = parseShape(MeshSchema, { type: 'Mesh', name: 'default', ...spec });
  if (!shape.ok) return shape.violations;
  return validateMeshStructure(shape.value, knownBackendTypes);
}

describe('Kuma 2.14.3 mesh mtls validator cases', () => {
  replayKumaCases(readKumaCases('mesh-mtls-validator.yaml'), meshcpViolations);
});
