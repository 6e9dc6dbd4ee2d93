// README's event log lists every event the control plane logs (the agent's own events are documented with it).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test("README's event log names every event the control plane logs", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### The event log'), readme.indexOf('## Operator tools'));
  const events = new Set<string>();
  for (const file of sources(join(ROOT, 'src'))) {
    if (/src\/(agent|cli)\//.test(file)) continue; // meshcp-dp's and meshctl's events are documented with them
    for (const [, name] of readFileSync(file, 'utf8').matchAll(/event: '([a-z-]+)'/g)) events.add(name);
  }
  assert.ok(events.has('mtls-disabled') && events.size > 10, [...events].join(', '));
  const missing = [...events].filter((e) => !section.includes(`\`${e}\``));
  assert.deepEqual(missing, [], `events missing from README's event log: ${missing.join(', ')}`);
});
