// The example alert rules only name series that meshcp exports, with the labels it gives them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { createTestApp } from '../helpers/app.js';

test('examples/prometheus/meshcp-alerts.yaml uses exported meshcp series and labels', async () => {
  const doc = parse(readFileSync(new URL('../../examples/prometheus/meshcp-alerts.yaml', import.meta.url), 'utf8'));
  const rules = doc.groups.flatMap((g: { rules: { alert: string; expr: string; for: string }[] }) => g.rules);
  assert.deepEqual(rules.map((r: { alert: string }) => r.alert).slice(0, 2), [
    'MeshcpCaExpiringSoon',
    'MeshcpRotationHalfDone',
  ]);
  assert.equal(rules[1].for, '24h');
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  try {
    const exported = new Map((await t.services.metrics.registry.getMetricsAsJSON()).map((m) => [m.name, m]));
    for (const rule of rules) {
      for (const name of rule.expr.match(/meshcp_[a-z_]+/g) ?? [])
        assert.ok(exported.has(name), `${rule.alert}: ${name} is not exported`);
      for (const label of rule.expr.match(/(?<=by \(|on \()[a-z, ]+/g) ?? []) {
        for (const l of label.split(',').map((s: string) => s.trim()))
          assert.ok(['mesh', 'backend'].includes(l), `${rule.alert}: label ${l}`);
      }
    }
  } finally {
    await t.close();
  }
});
