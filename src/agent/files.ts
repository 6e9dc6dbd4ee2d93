/**
 * Atomic file sets. Every version of the agent's material (certificate, key, bundle) goes into its own directory
 * `..<version>`, and one rename of the symlink `..data` switches all of them at once — the layout Kubernetes uses for
 * projected volumes, which Envoy's SDS `watched_directory` reloads on. The stable names `cert.pem`, `key.pem`,
 * `ca.pem` and `cert-key.pem` are symlinks through `..data`, so a proxy configured with them reads the current set.
 *
 * A reader that needs a consistent pair resolves `..data` once and reads both files from that directory: a key can
 * then never come with another version's certificate. The previous version stays on disk (one switch back) so a
 * reader that resolved `..data` just before a switch can still finish; older versions are removed.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../domain/clock.js';

export const DATA_LINK = '..data';

export interface PemFiles {
  certPem: string;
  keyPem: string;
  caPem: string;
}

/** The files of a set: name, content and mode (private keys are 0600). */
function setFiles(files: PemFiles): [string, string, number][] {
  return [
    ['cert.pem', files.certPem, 0o644],
    ['key.pem', files.keyPem, 0o600],
    ['ca.pem', files.caPem, 0o644],
    // HAProxy's `crt` wants the chain and the key in one file.
    ['cert-key.pem', files.certPem.trimEnd() + '\n' + files.keyPem, 0o600],
  ];
}

export const STABLE_NAMES = setFiles({ certPem: '', keyPem: '', caPem: '' }).map(([name]) => name);

let sequence = 0;

/** Sortable, unique version directory names: `..<ms since epoch>.<sequence>.<random>`. */
function versionName(now: number): string {
  sequence = (sequence + 1) % 1_000_000;
  return `..${now}.${String(sequence).padStart(6, '0')}.${randomBytes(3).toString('hex')}`;
}

/** Replaces `path` by a symlink to `target` in one rename, whatever was there (a file from an older agent, a link). */
async function linkAtomically(dir: string, name: string, target: string): Promise<void> {
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await symlink(target, temp);
    await rename(temp, join(dir, name));
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

async function currentVersion(dir: string): Promise<string | undefined> {
  try {
    return await readlink(join(dir, DATA_LINK));
  } catch {
    return undefined;
  }
}

/**
 * Publishes a complete set and switches to it atomically; returns the version directory name. The directory is
 * traversable by others (0755) so proxy workers that drop privileges can follow the links; the key stays 0600.
 */
export async function publishFileSet(dir: string, files: PemFiles, now = systemClock.now()): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const previous = await currentVersion(dir);
  const version = versionName(now);
  const versionDir = join(dir, version);
  await mkdir(versionDir, { mode: 0o755 });
  try {
    for (const [name, content, mode] of setFiles(files))
      await writeFile(join(versionDir, name), content, { mode, flag: 'wx' });
  } catch (err) {
    await rm(versionDir, { recursive: true, force: true });
    throw err;
  }
  await linkAtomically(dir, DATA_LINK, version);
  for (const name of STABLE_NAMES) {
    const expected = join(DATA_LINK, name);
    const existing = await readlink(join(dir, name)).catch(() => undefined);
    if (existing !== expected) await linkAtomically(dir, name, expected);
  }
  await removeOldVersions(dir, new Set([version, ...(previous ? [previous] : [])]));
  return version;
}

/** Removes version directories other than `keep`, and temp files a crash left behind. */
async function removeOldVersions(dir: string, keep: Set<string>): Promise<void> {
  for (const entry of await readdir(dir)) {
    const stale =
      (entry.startsWith('..') && entry !== DATA_LINK && !keep.has(entry)) ||
      (entry.startsWith('.') && entry.endsWith('.tmp'));
    if (!stale) continue;
    const info = await lstat(join(dir, entry)).catch(() => undefined);
    if (info) await rm(join(dir, entry), { recursive: info.isDirectory(), force: true });
  }
}
