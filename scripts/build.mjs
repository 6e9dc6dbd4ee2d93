#!/usr/bin/env node
// Builds dist/ from src/ unless it is already up to date, so `npm start` restarts at once when nothing changed.
// Plain JavaScript: it runs before anything is compiled, and bin/*.js use it to find a fresh dist/.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STAMP = join(ROOT, 'dist', '.built');
/** What the build reads besides src/. */
const INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted file makes its directory newer
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** dist/ was built after the last change to src/ and the build's configuration. */
export function distIsFresh() {
  if (!existsSync(STAMP)) return false;
  const builtAt = statSync(STAMP).mtimeMs;
  return [join(ROOT, 'src'), ...INPUTS.map((f) => join(ROOT, f))].every((p) => newestMtime(p) <= builtAt);
}

/** Compiles src/ into a clean dist/ when it is stale; returns whether it compiled. */
export function buildIfStale() {
  if (distIsFresh()) return false;
  const startedAt = new Date(); // the stamp carries the start: an edit made during the build makes it stale again
  rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit', cwd: ROOT });
  writeFileSync(STAMP, '');
  utimesSync(STAMP, startedAt, startedAt);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const force = process.argv.includes('--force');
  if (force) rmSync(STAMP, { force: true });
  console.error(buildIfStale() ? 'meshcp: compiled src/ into dist/' : 'meshcp: dist/ is up to date');
}
