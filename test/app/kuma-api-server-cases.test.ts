// Kuma 2.14.3's api-server CRUD cases, as data (test/fixtures/kuma-2.14/api-server-crud.yaml), replayed over HTTP.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ADMIN_TOKEN, createTestApp } from '../helpers/app.js';
import { expectError } from '../helpers/api-assert.js';

interface Step {
  method: 'GET' | 'PUT' | 'DELETE';
  url: string;
  body?: Record<string, unknown>;
  raw?: string;
  status: number;
  title?: string;
  detail?: string;
  violations?: { field: string; message: string }[];
  labels?: Record<string, string>;
  names?: string[];
}
interface ApiCase {
  name: string;
  requests: Step[];
  skip?: string;
}
const cases = parseYaml(
  readFileSync(new URL('../fixtures/kuma-2.14/api-server-crud.yaml', import.meta.url), 'utf8'),
) as ApiCase[];
/** Kuma's case uses a generated name of 254+ characters; the fixture says so by this placeholder. */
const expand = (value: unknown): unknown => (value === 'LONG_NAME_254' ? `aaaaaab${'a'.repeat(260)}` : value);

describe('Kuma 2.14.3 api-server CRUD cases', () => {
  for (const c of cases) {
    it(c.name, { skip: c.skip }, async () => {
      const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
      try {
        for (const step of c.requests) {
          const body = step.body
            ? Object.fromEntries(Object.entries(step.body).map(([k, v]) => [k, expand(v)]))
            : undefined;
          const res = await t.app.inject({
            method: step.method,
            url: step.url,
            headers: {
              authorization: `Bearer ${ADMIN_TOKEN}`,
              ...(step.raw !== undefined || body ? { 'content-type': 'application/json' } : {}),
            },
            ...(step.raw !== undefined ? { payload: step.raw } : body ? { payload: JSON.stringify(body) } : {}),
          });
          const what = `${step.method} ${step.url}`;
          if (step.status >= 400) {
            expectError(res, {
              status: step.status,
              title: step.title!,
              ...(step.detail ? { detail: step.detail } : {}),
              ...(step.violations
                ? { params: step.violations.map((v) => ({ field: v.field, reason: v.message })) }
                : {}),
            });
            continue;
          }
          assert.equal(res.statusCode, step.status, `${what}: ${res.body}`);
          if (step.labels) {
            const labels = (res.json() as { labels?: Record<string, string> }).labels ?? {};
            assert.deepEqual(labels, step.labels, what);
            assert.deepEqual(
              Object.keys(labels),
              Object.keys(step.labels),
              `${what}: label keys in Kuma's (sorted) order`,
            );
          }
          if (step.names)
            assert.deepEqual(
              (res.json() as { items: { name: string }[] }).items.map((i) => i.name),
              step.names,
              what,
            );
        }
      } finally {
        await t.close();
      }
    });
  }
});
