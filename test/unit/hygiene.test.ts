// What the walk-throughs create stays out of git, and docker-compose runs a built image with a patient health check.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('.gitignore covers data dirs, agent output, tokens and CA keys', () => {
  const paths = [
    'data/meshcp.db',
    'data/admin-token',
    'certs/web-1/key.pem',
    'web-1.token',
    'ca-2.key',
    'ca-2.crt',
    'node_modules/x',
  ];
  const ignored = execFileSync('git', ['check-ignore', '--no-index', ...paths], { cwd: ROOT, encoding: 'utf8' })
    .trim()
    .split('\n');
  assert.deepEqual(ignored, paths);
  // and the committed examples and sources are not ignored
  assert.throws(() =>
    execFileSync('git', ['check-ignore', '--no-index', 'examples/secret-ca-2-key.yaml', 'src/main.ts'], { cwd: ROOT }),
  );
});

test('docker-compose builds the Dockerfile image: dependencies at build time, a health check with a start period', () => {
  const compose = parse(readFileSync(`${ROOT}/docker-compose.yml`, 'utf8'));
  const dockerfile = readFileSync(`${ROOT}/Dockerfile`, 'utf8');
  assert.match(dockerfile, /^RUN npm ci$/m);
  assert.match(dockerfile, /^USER node$/m);
  for (const [name, service] of Object.entries<Record<string, any>>(compose.services)) {
    if (name === 'postgres') continue; // the ha profile's database: PostgreSQL's own image (checked below)
    assert.equal(service.image, 'meshcp:local', name);
    assert.equal(service.build, '.', name);
    assert.doesNotMatch(JSON.stringify(service), /npm (ci|install)|node_modules/, `${name} installs nothing at start`);
  }
  assert.equal(compose.services['control-plane'].healthcheck.start_period, '30s');
  assert.equal(compose.volumes.node_modules, undefined);
});

test('docker-compose: the default services are unchanged by the ha profile, which runs PostgreSQL, one migration and three instances sharing one database and one secrets key', () => {
  const compose = parse(readFileSync(`${ROOT}/docker-compose.yml`, 'utf8'));
  const services = compose.services as Record<string, Record<string, any>>;
  const inProfile = (profile: string) =>
    Object.keys(services)
      .filter((n) => services[n].profiles?.includes(profile))
      .sort();
  // `docker compose up` (no profile) starts what it always did.
  assert.deepEqual(
    Object.keys(services)
      .filter((n) => !services[n].profiles)
      .sort(),
    ['control-plane', 'init', 'web-1', 'web-2'],
  );
  assert.deepEqual(inProfile('ha'), ['cp-1', 'cp-2', 'cp-3', 'migrate', 'postgres']);

  const db = services.postgres;
  assert.match(db.image, /^postgres:\d+/);
  assert.deepEqual(db.healthcheck.test.slice(0, 2), ['CMD', 'pg_isready']);
  assert.equal(services.migrate.depends_on.postgres.condition, 'service_healthy');
  assert.deepEqual(services.migrate.command.slice(-2), ['migrate', 'up']);

  const instances = ['cp-1', 'cp-2', 'cp-3'].map((n) => services[n]);
  const hostPorts = new Set<string>();
  for (const [i, cp] of instances.entries()) {
    const name = `cp-${i + 1}`;
    assert.equal(
      cp.depends_on.migrate.condition,
      'service_completed_successfully',
      `${name} starts after the migration`,
    );
    // Every instance (and the migration) sees the same database and the same secrets key.
    assert.deepEqual(cp.environment, services.migrate.environment, name);
    assert.equal(cp.environment.MESHCP_STORE_TYPE, 'postgres');
    assert.equal(cp.environment.MESHCP_STORE_POSTGRES_HOST, 'postgres');
    assert.equal(cp.environment.MESHCP_STORE_POSTGRES_DB_NAME, db.environment.POSTGRES_DB);
    assert.equal(cp.environment.MESHCP_STORE_POSTGRES_USER, db.environment.POSTGRES_USER);
    assert.equal(cp.environment.MESHCP_STORE_POSTGRES_PASSWORD, db.environment.POSTGRES_PASSWORD);
    assert.equal(
      cp.environment.MESHCP_SECRETS_KEY,
      '${MESHCP_SECRETS_KEY:-}',
      'one key from the shell for all, no per-instance default',
    );
    assert.match(cp.healthcheck.test.join(' '), /readyz/);
    for (const port of cp.ports) hostPorts.add(String(port).split(':')[0]);
    assert.notEqual(
      cp.volumes[0].split(':')[0],
      'meshcp-data',
      `${name} does not share the SQLite instance's data volume`,
    );
  }
  assert.equal(hostPorts.size, 3, 'each instance on its own host port');
  for (const n of ['control-plane', 'init', 'web-1', 'web-2', 'meshctl']) {
    assert.doesNotMatch(JSON.stringify(services[n]), /STORE_TYPE|postgres/i, `${n} stays on SQLite`);
  }
});
