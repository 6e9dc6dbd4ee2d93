// A real, throw-away PostgreSQL server for the tests: initdb in a fresh temp dir, postgres on 127.0.0.1 and a unix
// socket in that dir, removed on stop. Plain Node (no tsx) so that scripts/run-tests.mjs can start the one cluster
// shared by a whole `npm test` run; test/helpers/postgres.ts gives it types for the test files that need their own.
//
// PostgreSQL refuses to run as root: when we are root, its commands run as the `postgres` user (runuser) in a dir
// that user owns. Debian's packages put the binaries in /usr/lib/postgresql/<major>/bin (not on PATH); the newest
// installed major is taken, or MESHCP_TEST_PG_BIN.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  appendFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** The superuser (socket, trust) that creates and drops databases; the tests' user logs in over TCP with a password. */
const SUPERUSER = 'postgres';
export const TEST_USER = 'meshcp';

/** The bin dir of the newest PostgreSQL installed, e.g. /usr/lib/postgresql/15/bin. */
export function findPostgresBin() {
  const fromEnv = process.env.MESHCP_TEST_PG_BIN;
  if (fromEnv) return fromEnv;
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) {
    throw new Error(
      "no PostgreSQL server found in /usr/lib/postgresql/*/bin: install Debian's `postgresql` (.ci/run does) or set MESHCP_TEST_PG_BIN",
    );
  }
  return join(base, majors[0], 'bin');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const asRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL command as the user that owns the cluster (postgres when we are root, else ourselves). */
function pgCommand(bin, command, args, timeoutMs = 60_000) {
  const file = join(bin, command);
  const [cmd, argv] = asRoot() ? ['runuser', ['-u', SUPERUSER, '--', file, ...args]] : [file, args];
  return run(cmd, argv, { timeout: timeoutMs, encoding: 'utf8' });
}

function errorWithLog(message, err, logFile) {
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
  return new Error(`${message}: ${err?.stderr || err?.message || err}\n--- postgres log (tail) ---\n${log}`);
}

/** The postmaster and its children (PostgreSQL puts each child in its own process group: a group kill misses them). */
function serverPids(postmaster) {
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false;
      }
    });
  return [postmaster, ...children.map(Number)];
}

function signalServer(postmaster, signal) {
  for (const pid of serverPids(postmaster)) {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

/** Whether a process still runs (a zombie does not: in a container nobody may reap the daemonized postmaster). */
function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code !== 'EPERM') return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: kill(0) said it exists
  }
}

async function until(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Starts a fresh cluster and resolves once it accepts the test user's password login over TCP.
 * @param {{ log?: (line: string) => void, signals?: boolean }} [options] signals: false when the caller handles
 *   SIGINT/SIGTERM itself and calls stop() (else a signal removes the cluster and ends the process).
 */
export async function startCluster(options = {}) {
  const bin = findPostgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'meshcp-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const password = randomBytes(12).toString('hex');
  if (asRoot()) {
    try {
      const id = (flag) =>
        Number(execFileSync('id', [flag, SUPERUSER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      chownSync(dir, id('-u'), id('-g'));
    } catch {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `PostgreSQL refuses to run as root and there is no "${SUPERUSER}" user to run it as: install Debian's postgresql (it creates one) or run the tests as another user`,
      );
    }
  }
  chmodSync(dir, 0o700);
  let port = await freePort();
  let stopped = false;

  // Removes everything if the test process ends without stop() (a crashed test must not leave a server running).
  const onExit = () => {
    if (stopped) return;
    const pid = postmasterPid();
    if (pid) signalServer(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  // ... nor after Ctrl-C or a SIGTERM: clean up, then die of the same signal as without this handler.
  // A signal in the middle of start-up waits for it to end (a postmaster being born has no pid file to kill it by).
  let starting = true;
  let deferredSignal;
  const onSignal = (signal) => {
    if (starting) {
      deferredSignal = signal;
      return;
    }
    onExit();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    process.kill(process.pid, signal);
  };
  if (options.signals !== false) process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const forgetCleanup = () => {
    process.off('exit', onExit).off('SIGINT', onSignal).off('SIGTERM', onSignal);
  };

  function postmasterPid() {
    try {
      return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
    } catch {
      return undefined;
    }
  }

  function startPostmaster() {
    // pg_ctl -w returns once the server accepts connections (PQping), with its own deadline.
    return pgCommand(bin, 'pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${port}`, 'start']);
  }

  /** Ready for the tests: the test user logs in over TCP with its password (what the control plane does). */
  function loginWorks() {
    return until(
      'the test user to log in',
      async () => {
        const client = new pg.Client({ host: '127.0.0.1', port, user: TEST_USER, password, database: 'postgres' });
        try {
          await client.connect();
          return true;
        } catch (err) {
          if (!/starting up|recovery|ECONNREFUSED/i.test(String(err?.message))) throw err;
          return false;
        } finally {
          await client.end().catch(() => {});
        }
      },
      30_000,
    );
  }

  async function admin(sql) {
    const client = new pg.Client({ host: dir, port, user: SUPERUSER, database: 'postgres' });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  try {
    // Trust over the socket (setup, test housekeeping), a password over TCP: what the control plane uses.
    await pgCommand(bin, 'initdb', [
      '-D',
      dataDir,
      '-U',
      SUPERUSER,
      '-E',
      'UTF8',
      '--no-locale',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
    ]);
    appendFileSync(
      dataDir + '/postgresql.conf',
      [
        '',
        '# meshcp tests: loopback and a socket in the cluster dir only; enough connections for two test files with',
        '# pools plus three control planes. Speed over durability against a crash of the machine (a test cluster never',
        '# outlives it), but not of the server: synchronous_commit stays on, so a COMMIT has written its WAL to the OS',
        '# and a kill -9 of PostgreSQL (kill9()) loses no acknowledged write; without fsync that write costs little.',
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        'max_connections = 300',
        'fsync = off',
        'full_page_writes = off',
        "log_min_messages = 'warning'",
        '',
      ].join('\n'),
    );
    for (let attempt = 0; ; attempt++) {
      try {
        await startPostmaster();
        break;
      } catch (err) {
        // Another engineer's process took the port between freePort() and the bind: try another one.
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
        if (attempt >= 3 || !/could not bind|could not create any TCP\/IP sockets/.test(log)) throw err;
        port = await freePort();
      }
    }
    await admin(`CREATE ROLE ${TEST_USER} LOGIN CREATEDB PASSWORD '${password}'`);
    // PostgreSQL 15 no longer lets everyone create in `public`: the test user may use the default database too.
    await admin(`GRANT ALL ON SCHEMA public TO ${TEST_USER}`);
    await admin(`ALTER DATABASE postgres OWNER TO ${TEST_USER}`);
    await loginWorks();
  } catch (err) {
    onExit();
    forgetCleanup();
    if (deferredSignal) process.kill(process.pid, deferredSignal);
    throw errorWithLog('could not start a test PostgreSQL', err, logFile);
  } finally {
    starting = false;
  }
  if (deferredSignal) onSignal(deferredSignal);

  const cluster = {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    user: TEST_USER,
    password,
    dir,
    get url() {
      return `postgres://${TEST_USER}:${password}@127.0.0.1:${port}/postgres`;
    },
    /** The URL of another database of this cluster. */
    urlOf(database) {
      return `postgres://${TEST_USER}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    },
    async createDatabase(name) {
      await admin(`CREATE DATABASE "${name.replace(/"/g, '""')}" OWNER ${TEST_USER}`);
    },
    async dropDatabase(name) {
      await admin(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
    },
    /** Starts the server again (after stop, restart or kill9) on the same port and data. */
    async start() {
      // After a kill -9 the old shared memory may still be attached for a moment: retry until the deadline.
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await startPostmaster();
          await loginWorks();
          return;
        } catch (err) {
          if (Date.now() > deadline) throw errorWithLog('could not restart the test PostgreSQL', err, logFile);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
    /** A clean, fast shutdown (open sessions are disconnected); data and port are kept for start(). */
    async shutdown() {
      if (!postmasterPid()) return;
      await pgCommand(bin, 'pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']).catch((err) => {
        if (postmasterPid()) throw errorWithLog('could not stop the test PostgreSQL', err, logFile);
      });
    },
    async restart() {
      await cluster.shutdown();
      await cluster.start();
    },
    /** A crash: SIGKILL to the postmaster and its backends (no shutdown checkpoint; start() runs crash recovery). */
    async kill9() {
      const pid = postmasterPid();
      if (!pid) return;
      const pids = serverPids(pid);
      signalServer(pid, 'SIGKILL');
      await until('the killed PostgreSQL to be gone', () => !pids.some(alive), 10_000);
    },
    /** SIGSTOP to the server and its backends: it stops answering but keeps its connections (a hung database). */
    async freeze() {
      const pid = postmasterPid();
      if (pid) signalServer(pid, 'SIGSTOP');
    },
    /** SIGCONT after freeze(). */
    async thaw() {
      const pid = postmasterPid();
      if (pid) signalServer(pid, 'SIGCONT');
    },
    /** Stops the server and removes its directory. */
    async stop() {
      if (stopped) return;
      try {
        await cluster.thaw();
        await cluster.shutdown();
      } catch {
        const pid = postmasterPid();
        if (pid) signalServer(pid, 'SIGKILL');
      }
      stopped = true;
      forgetCleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  options.log?.(`PostgreSQL ${bin} on 127.0.0.1:${port} (${dir})`);
  return cluster;
}
