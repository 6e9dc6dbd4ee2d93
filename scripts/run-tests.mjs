// `npm test`'s test runner: one real PostgreSQL for the whole run (test/helpers/pg-cluster.mjs), then
//   1. every test file (test/*/*.test.ts), with the cluster's URL in MESHCP_TEST_POSTGRES_URL;
//   2. the API suite (test/app) again with MESHCP_TEST_STORE=postgres: the same behaviour on both stores;
//   with TMPDIR a directory of this run, which must be empty at the end (a test that leaves files fails the run).
// The cluster is removed at the end, also after a failure or Ctrl-C; the exit code is non-zero if any pass failed.
// `node scripts/run-tests.mjs <files...>` runs just those files (one pass) with the cluster.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../test/helpers/pg-cluster.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** test/<dir>/*.test.ts, sorted, as the shell would expand the glob (Node 20's --test does not expand globs). */
function testFiles(dirs) {
  return dirs.flatMap((dir) =>
    readdirSync(join(ROOT, 'test', dir))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => `test/${dir}/${f}`),
  );
}

const allDirs = readdirSync(join(ROOT, 'test'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && !['fixtures', 'helpers'].includes(d.name))
  .map((d) => d.name)
  .sort();
const chosen = process.argv.slice(2);
const passes = chosen.length
  ? [{ label: chosen.length > 3 ? `${chosen.length} chosen files` : chosen.join(' '), files: chosen, env: {} }]
  : [
      { label: 'all tests (SQLite store)', files: testFiles(allDirs), env: {} },
      { label: 'API tests on the PostgreSQL store', files: testFiles(['app']), env: { MESHCP_TEST_STORE: 'postgres' } },
    ];

let child;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupted = true;
    // The whole group: the test runner and its test file processes (each removes a cluster of its own on a signal).
    if (child) process.kill(-child.pid, signal);
  });
}

/**
 * A pass takes ~3 minutes; one still running after this long is stuck (a test process deadlocked in native code
 * cannot time itself out): say which test files are still running and kill the pass, rather than let CI hang.
 */
/** Test files run at once (MESHCP_TEST_CONCURRENCY): most of a file's time is waiting on processes and sockets. */
const CONCURRENCY = Number(process.env.MESHCP_TEST_CONCURRENCY ?? 2);

const PASS_DEADLINE_MS = Number(process.env.MESHCP_TEST_PASS_DEADLINE_MS ?? 15 * 60_000);

function stillRunning(groupId) {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '-g', String(groupId)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => /\.test\.ts\s*$/.test(line) && !line.includes(' --test '))
      .map((line) => line.trim().replace(/\s.*\s(\S+\.test\.ts)$/, ' $1'));
  } catch {
    return [];
  }
}

function runPass(pass, url) {
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${CONCURRENCY}`, ...pass.files];
  child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: 'inherit',
    detached: true, // its own process group, so that a signal reaches every test file process
    env: { ...process.env, MESHCP_TEST_POSTGRES_URL: url, TMPDIR: runTmp, ...pass.env },
  });
  const groupId = child.pid;
  const watchdog = setTimeout(() => {
    console.log(
      `# run-tests: ${pass.label}: still running after ${Math.round(PASS_DEADLINE_MS / 1000)} s, killed; running then:`,
    );
    for (const line of stillRunning(groupId)) console.log(`# run-tests:   ${line}`);
    process.kill(-groupId, 'SIGKILL');
  }, PASS_DEADLINE_MS);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(watchdog);
      resolve(code ?? (signal ? 1 : 0));
    }),
  );
}

// The tests' temp dir: private to this run (other runs on the machine share os.tmpdir()), so that what a test leaves
// behind is seen, named and fails the run. Traversable by others: the PostgreSQL clusters of tests run as postgres.
const runTmp = mkdtempSync(join(tmpdir(), 'meshcp-test-run-'));
chmodSync(runTmp, 0o711);
// tsx keeps its compile cache in <temp dir>/tsx-<uid>: the machine's own, kept across runs (it is no test's leftover).
const tsxCache = `tsx-${process.getuid?.() ?? 0}`;
mkdirSync(join(tmpdir(), tsxCache), { recursive: true, mode: 0o700 });
symlinkSync(join(tmpdir(), tsxCache), join(runTmp, tsxCache));

const started = Date.now();
const cluster = await startCluster({ log: (line) => console.log(`# run-tests: ${line}`), signals: false });
const failed = [];
try {
  for (const pass of passes) {
    if (interrupted) break;
    console.log(`# run-tests: ${pass.label}: ${pass.files.length} files`);
    const passStart = Date.now();
    const code = await runPass(pass, cluster.url);
    console.log(
      `# run-tests: ${pass.label}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${((Date.now() - passStart) / 1000).toFixed(1)} s`,
    );
    if (code !== 0) failed.push(pass.label);
  }
} finally {
  await cluster.stop();
  const left = readdirSync(runTmp).filter((name) => name !== tsxCache);
  rmSync(runTmp, { recursive: true, force: true });
  if (left.length > 0 && !interrupted) {
    console.log(
      `# run-tests: the tests left ${left.length} entries in the temp dir (each test removes its own): ${left.sort().join(', ')}`,
    );
    failed.push('temp dir left behind');
  }
}
console.log(
  `# run-tests: ${failed.length ? `failed: ${failed.join('; ')}` : 'every pass passed'} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
process.exit(interrupted ? 130 : failed.length ? 1 : 0);
