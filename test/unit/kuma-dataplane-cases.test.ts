import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataplaneSchema, parseShape, validateDataplane, type Violation } from '../../src/resources/index.js';
import { readKumaCases, replayKumaCases } from '../helpers/kuma-cases.js';

/** Kuma 2.14.3's own Dataplane validator table, replayed against meshcp's validator (fixture: see its header). */
const cases = readKumaCases('dataplane-validator.yaml');

function meshcpViolations(manifest: unknown): Violation[] {
  const shape = parseShape(DataplaneSchema, manifest);
  if (!shape.ok) return shape.violations;
  return validateDataplane(shape.value);
}

describe('Kuma 2.14.3 dataplane validator cases', () => {
  it('the table is complete (every Kuma entry plus the service-tag cases)', () => {
    assert.ok(cases.length >= 80, `${cases.length} cases`);
  });
  replayKumaCases(cases, meshcpViolations);
});
