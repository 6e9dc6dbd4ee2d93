// What the walk-throughs create stays out of git, and docker-compose runs a built image with a patient health check.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('.gitignore covers data dirs, agent output, tokens and CA keys', () => {
  const paths = ['data/meshcp.db', 'data/admin-token', 'certs/web-1/key.pem', 'web-1.token', 'ca-2.key', 'ca-2.crt', 'node_modules/x'];
  const ignored = execFileSync('git', ['check-ignore', '--no-index', ...paths], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(ignored, paths);
  // and the committed examples and sources are not ignored
  assert.throws(() => execFileSync('git', ['check-ignore', '--no-index', 'examples/secret-ca-2-key.yaml', 'src/main.ts'], { cwd: ROOT }));
});

test('docker-compose builds the Dockerfile image: dependencies at build time, a health check with a start period', () => {
  const compose = parse(readFileSync(`${ROOT}/docker-compose.yml`, 'utf8'));
  const dockerfile = readFileSync(`${ROOT}/Dockerfile`, 'utf8');
  assert.match(dockerfile, /^RUN npm ci$/m);
  assert.match(dockerfile, /^USER node$/m);
  for (const [name, service] of Object.entries<Record<string, any>>(compose.services)) {
    assert.equal(service.image, 'meshcp:local', name);
    assert.equal(service.build, '.', name);
    assert.doesNotMatch(JSON.stringify(service), /npm (ci|install)|node_modules/, `${name} installs nothing at start`);
  }
  assert.equal(compose.services['control-plane'].healthcheck.start_period, '30s');
  assert.equal(compose.volumes.node_modules, undefined);
});
