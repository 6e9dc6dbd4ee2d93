// The Dockerfile and docker-compose.yml, carried out without Docker (no engine here; base images cannot be pulled):
// every COPY copies exactly what it names into an empty directory per stage, every RUN step runs there (npm run build
// compiles for real), then the image's CMD and the default compose services' commands run from the final stage with
// their environment: the control plane, its health check, `init` (meshctl: mTLS on, a token per agent), the two
// agents calling each other over mTLS, and `docker compose run meshctl`; and the `ha` profile's migration and two of
// its instances on this run's PostgreSQL (in place of the postgres service's image). A file the image lacks fails here.
//
// Not run: the base image's system layer (apt-get's toolchain, the volumes' mount points and their owner), named in
// SYSTEM_STEPS. `npm ci` is stood for by hard links to this checkout's node_modules, after checking that they are
// what `npm ci` installs from the package-lock.json the image copies (every locked package at its path and version,
// nothing more): running npm ci offline would rebuild better-sqlite3 from source (its prebuilt binary is a download),
// minutes of CPU for the same files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { buildDockerfile, type Stage } from '../helpers/dockerfile.js';
import { freePort, Proc, type LogLine } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { freshDatabase } from '../helpers/postgres.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const SYSTEM_STEPS: Record<string, string> = {
  'apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*':
    'system packages of the base image (a toolchain for better-sqlite3 when no prebuilt binary fits)',
  'mkdir -p /data /tokens /certs && chown node:node /data /tokens /certs':
    "the volumes' mount points outside /app, owned by the node user: stood for by this test's own directories",
};

/** Every package directory under a node_modules tree (scoped ones and nested node_modules too), as lock paths. */
function installedPackages(dir: string, prefix = 'node_modules'): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const names = entry.name.startsWith('@')
      ? readdirSync(join(dir, entry.name)).map((n) => `${entry.name}/${n}`)
      : [entry.name];
    for (const name of names) {
      const path = `${prefix}/${name}`;
      out.push(path);
      const nested = join(dir, name, 'node_modules');
      if (existsSync(nested)) out.push(...installedPackages(nested, `${path}/node_modules`));
    }
  }
  return out;
}

/**
 * The checkout's node_modules is what `npm ci` installs from the lock the image copies: every locked package (but
 * other platforms' optional binaries) installed at its path in its version, and nothing installed that the lock lacks.
 */
function assertNodeModulesAreNpmCi(stage: Stage): void {
  const lock = JSON.parse(readFileSync(join(stage.dir, 'package-lock.json'), 'utf8')).packages as Record<
    string,
    { version?: string; optional?: boolean; link?: boolean }
  >;
  for (const [path, entry] of Object.entries(lock)) {
    if (path === '' || entry.link) continue;
    const manifest = join(ROOT, path, 'package.json');
    if (!existsSync(manifest)) {
      assert.ok(entry.optional, `package-lock.json's ${path} is not installed: run npm ci`);
      continue;
    }
    assert.equal(
      JSON.parse(readFileSync(manifest, 'utf8')).version,
      entry.version,
      `${path} is not the locked version: run npm ci`,
    );
  }
  const extra = installedPackages(join(ROOT, 'node_modules')).filter((path) => !lock[path]);
  assert.deepEqual(extra, [], 'installed but not in package-lock.json: run npm ci');
}

const root = mkdtempSync(join(tmpdir(), 'meshcp-docker-'));
const procs: Proc[] = [];
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  rmSync(root, { recursive: true, force: true });
});

function run(
  cmd: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd[0], cmd.slice(1), { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('the Docker image, built and run without Docker', { timeout: 240_000 }, () => {
  let built: ReturnType<typeof buildDockerfile>;
  let image: Stage;
  before(() => {
    built = buildDockerfile({
      context: ROOT,
      root: join(root, 'stages'),
      systemSteps: SYSTEM_STEPS,
      replace: {
        'npm ci': (stage) => {
          assertNodeModulesAreNpmCi(stage);
          execFileSync('cp', ['-al', join(ROOT, 'node_modules'), join(stage.dir, 'node_modules')]);
        },
      },
    });
    image = built.stages.at(-1)!;
  });

  it('builds from exactly what the Dockerfile copies, and the compose services run from it', async () => {
    assert.deepEqual(built.cmd, ['node', 'dist/main.js']);
    assert.equal(built.user, 'node');
    // The image runs what it compiled: bin/*.js find dist/ fresh, so they never fall back to tsx.
    const fresh = await run(
      [
        'node',
        '--input-type=module',
        '-e',
        "const m = await import('./scripts/build.mjs'); process.exit(m.distIsFresh() ? 0 : 3)",
      ],
      image.dir,
      process.env,
    );
    assert.equal(fresh.code, 0, `dist/ is not fresh in the image: ${fresh.stderr}`);

    // ---- docker-compose.yml's default services, with their environment, volumes as directories, hosts as ports ----
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'));
    const services = compose.services as Record<string, Record<string, any>>;
    assert.deepEqual(
      Object.keys(services)
        .filter((n) => !services[n].profiles)
        .sort(),
      ['control-plane', 'init', 'web-1', 'web-2'],
    );
    const ports = { 'control-plane': await freePort(), 'web-1': await freePort(), 'web-2': await freePort() };
    const [httpsPort, diagnosticsPort] = [await freePort(), await freePort()];
    const volume = (name: string) => {
      const dir = join(root, 'volumes', name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return dir;
    };
    /** A compose string as the container would see it, in this machine's terms. */
    const localize = (service: string, text: string): string => {
      let out = String(text).replace(/\$\$/g, '$');
      for (const mount of services[service].volumes ?? []) {
        const [name, path] = String(mount).split(':');
        out = out.split(path).join(volume(name));
      }
      // Inside its own container the control plane is 127.0.0.1:5681 (its health check).
      if (service === 'control-plane') out = out.split('127.0.0.1:5681').join(`127.0.0.1:${ports['control-plane']}`);
      for (const [host, port] of Object.entries(ports)) {
        out = out.replace(new RegExp(`\\b${host}:(5681|20001)\\b`, 'g'), `127.0.0.1:${port}`);
      }
      return out
        .replace(/^--address=web-\d$/, '--address=127.0.0.1')
        .replace(/^--inbound=20001:/, `--inbound=${ports[service as keyof typeof ports]}:`);
    };
    const envOf = (service: string): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: join(root, 'home'), ...image.env };
      for (const [key, value] of Object.entries<string>(services[service].environment ?? {}))
        env[key] = localize(service, value);
      return env;
    };
    const commandOf = (service: string, argv: string[]) => argv.map((a) => localize(service, a));

    // control-plane: the image's CMD. Bound to loopback and to free ports here (compose publishes 5680-5682).
    const cpEnv: NodeJS.ProcessEnv = {
      ...envOf('control-plane'),
      MESHCP_API_ADDRESS: '127.0.0.1',
      MESHCP_API_HTTP_PORT: String(ports['control-plane']),
      MESHCP_API_HTTPS_PORT: String(httpsPort),
      MESHCP_DIAGNOSTICS_PORT: String(diagnosticsPort),
      MESHCP_LOG_FORMAT: 'json',
    };
    assert.equal(cpEnv.MESHCP_DATA_DIR, volume('meshcp-data'));
    const cp = new Proc(
      'control-plane',
      spawn(built.cmd[0], built.cmd.slice(1), { cwd: image.dir, env: cpEnv, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    procs.push(cp);
    await cp.waitFor('HTTP API listening', (l) => l.msg === 'HTTP API listening', 60_000);

    // Its health check, as compose runs it in the container.
    const health = commandOf('control-plane', services['control-plane'].healthcheck.test.slice(1));
    await waitFor('the health check passes', async () => (await run(health, image.dir, cpEnv)).code === 0, 30_000);

    // init: mTLS on with ca-1 and one token per agent, through meshctl with the admin token from the data volume.
    const init = await run(commandOf('init', services.init.command), image.dir, envOf('init'));
    assert.equal(init.code, 0, init.stderr + init.stdout);
    assert.equal(
      init.stdout,
      `Mesh default configured\nwrote ${volume('tokens')}/web-1\nwrote ${volume('tokens')}/web-2\n`,
    );
    const again = await run(commandOf('init', services.init.command), image.dir, envOf('init'));
    assert.match(again.stdout, /^mesh default already has mTLS on: leaving it as it is\n/, again.stderr);

    // web-1 and web-2: the agents serve mTLS and call each other.
    const agents = ['web-1', 'web-2'].map((name) => {
      const [file, ...args] = commandOf(name, services[name].command);
      const proc = new Proc(
        name,
        spawn(file, args, { cwd: image.dir, env: envOf(name), stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      procs.push(proc);
      return proc;
    });
    const callOk = (l: LogLine) => l.event === 'call' && l.ok === true;
    await Promise.all(agents.map((a) => a.waitFor('a successful mTLS call', callOk, 60_000)));
    assert.ok(existsSync(join(volume('certs'), 'web-1', 'cert.pem')));

    // docker compose run --rm meshctl inspect dataplanes
    const meshctl = services.meshctl;
    const inspect = await run(
      [...commandOf('meshctl', meshctl.entrypoint), 'inspect', 'dataplanes'],
      image.dir,
      envOf('meshctl'),
    );
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /\ndefault\s+web-1\s+web\s+ca-1\s+ca-1\s/);
    assert.match(inspect.stdout, /\ndefault\s+web-2\s+backend\s+ca-1\s+ca-1\s/);

    for (const agent of agents) {
      await agent.stop();
      const summary = agent.lines.find((l) => l.event === 'summary') as { calls: { failed: number } } | undefined;
      assert.equal(summary?.calls.failed, 0, agent.stderr);
    }
    assert.equal(await cp.stop(), 0, cp.stderr);
  });

  it('the ha profile: the one-shot migration, then two instances on one database sharing one secrets key', async () => {
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'));
    const services = compose.services as Record<string, Record<string, any>>;
    const db = await freshDatabase('meshcp_docker');
    try {
      const secretsKey = randomBytes(32).toString('base64');
      /** The x-ha-environment, with the compose network's database replaced by this run's and the key from "the shell". */
      const envOf = (service: string, dataDir: string): NodeJS.ProcessEnv => {
        const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: join(root, 'home'), ...image.env };
        for (const [key, value] of Object.entries<string>(services[service].environment)) env[key] = value;
        assert.equal(env.MESHCP_SECRETS_KEY, '${MESHCP_SECRETS_KEY:-}');
        return {
          ...env,
          ...db.storeEnv(),
          MESHCP_SECRETS_KEY: secretsKey,
          MESHCP_ADMIN_TOKEN: '',
          MESHCP_DATA_DIR: dataDir,
          MESHCP_API_ADDRESS: '127.0.0.1',
        };
      };
      const migrate = await run(
        services.migrate.command,
        image.dir,
        envOf('migrate', join(root, 'volumes', 'migrate')),
      );
      assert.equal(migrate.code, 0, migrate.stderr);
      assert.match(migrate.stdout, /^applied \d+/);
      const instances: { proc: Proc; port: number }[] = [];
      for (const name of ['cp-1', 'cp-2']) {
        const port = await freePort();
        const dataDir = join(root, 'volumes', `ha-${name}`);
        mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        const env = {
          ...envOf(name, dataDir),
          MESHCP_API_HTTP_PORT: String(port),
          MESHCP_API_HTTPS_PORT: '-1',
          MESHCP_DIAGNOSTICS_PORT: '-1',
          MESHCP_LOG_FORMAT: 'json',
        };
        const proc = new Proc(
          name,
          spawn(built.cmd[0], built.cmd.slice(1), { cwd: image.dir, env, stdio: ['ignore', 'pipe', 'pipe'] }),
        );
        procs.push(proc);
        await proc.waitFor('HTTP API listening', (l) => l.msg === 'HTTP API listening', 60_000);
        const health = services[name].healthcheck.test
          .slice(1)
          .map((a: string) => a.split('127.0.0.1:5681').join(`127.0.0.1:${port}`));
        await waitFor(
          `${name}'s health check passes`,
          async () => (await run(health, image.dir, env)).code === 0,
          30_000,
        );
        instances.push({ proc, port });
      }
      const put = await fetch(`http://127.0.0.1:${instances[0].port}/meshes/ha-check`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'Mesh', name: 'ha-check' }),
      });
      assert.equal(put.status, 201);
      assert.equal(
        (await fetch(`http://127.0.0.1:${instances[1].port}/meshes/ha-check`)).status,
        200,
        'a write on cp-1 is read on cp-2',
      );
      for (const { proc } of instances) assert.equal(await proc.stop(), 0, proc.stderr);
    } finally {
      await db.drop();
    }
  });
});
