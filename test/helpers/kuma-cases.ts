import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { Violation } from '../../src/resources/index.js';

/** One case of a Kuma 2.14.3 validator table, as our fixtures write it (see each fixture's header). */
export interface KumaCase {
  name: string;
  manifest: unknown;
  violations: Violation[];
  skip?: string;
  /** Why meshcp differs from Kuma here on purpose; `meshcp` is then what meshcp answers instead. */
  difference?: string;
  meshcp?: Violation[];
}

export function readKumaCases(fixture: string): KumaCase[] {
  return parseYaml(readFileSync(new URL(`../fixtures/kuma-2.14/${fixture}`, import.meta.url), 'utf8')) as KumaCase[];
}

/** One test per case: meshcp agrees with Kuma, or differs exactly as the case says it does by design. */
export function replayKumaCases(cases: KumaCase[], meshcpViolations: (manifest: any) => Violation[]): void {
  for (const c of cases) {
    it(c.name, { skip: c.skip }, () => {
      const actual = meshcpViolations(c.manifest);
      if (c.difference !== undefined) {
        assert.notDeepEqual(
          actual,
          c.violations,
          `listed as a difference by design but agrees with Kuma: ${c.difference}`,
        );
        assert.deepEqual(actual, c.meshcp ?? []);
        return;
      }
      assert.deepEqual(actual, c.violations);
    });
  }
}
