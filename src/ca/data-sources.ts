import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, sep } from 'node:path';
import type { DataSource } from '../resources/ca-conf.js';
import { CaMaterialError, type FileSourcePolicy, type SecretSource } from './backend.js';

/*
 * The one place every CA backend (provided, vault) resolves a data source. `file` sources are read only under the
 * directories the operator allows, never inside the data directory (keys, tokens, the database): a caller who may
 * PUT a mesh must not be able to make the control plane read its own secrets (and send them to a "Vault" of the
 * caller's choosing). Paths are compared after resolving links, and a path that is missing, unreadable, not a
 * regular file or not allowed gets one and the same answer, so the API cannot be used to probe the file system.
 */

const FILE_SOURCE_DIRS_SETTING = 'MESHCP_FILE_SOURCE_DIRS';

const NO_FILE_SOURCES: FileSourcePolicy = { allowedDirs: [], deniedDirs: [] };

const MAX_FILE_BYTES = 1024 * 1024;

/** Resolves a data source; throws CaMaterialError with Kuma's `could not load data: ...` wording. */
export function loadDataSource(mesh: string, source: DataSource, secrets: SecretSource): Buffer {
  if ('secret' in source) {
    const data = secrets.read(mesh, source.secret);
    if (data === undefined) {
      throw new CaMaterialError(
        `could not load data: resource not found: type="Secret" name="${source.secret}" mesh="${mesh}"`,
      );
    }
    return data;
  }
  if ('inline' in source) return Buffer.from(source.inline, 'base64');
  if ('inlineString' in source) return Buffer.from(source.inlineString);
  return readFileSource(source.file, secrets.files ?? NO_FILE_SOURCES);
}

const within = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

function realDirs(dirs: readonly string[]): string[] {
  return dirs.flatMap((dir) => {
    try {
      return [realpathSync(dir)];
    } catch {
      return [];
    }
  });
}

/** The path the kernel opened (Linux); undefined where /proc is not there. */
function openedPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** A `file` data source, read only under the operator's directories (never the data directory); refusals are CaMaterialErrors. */
export function readFileSource(file: string, policy: FileSourcePolicy): Buffer {
  if (policy.allowedDirs.length === 0) {
    throw new CaMaterialError(
      `could not load data: file data sources are turned off; the operator allows them with ${FILE_SOURCE_DIRS_SETTING} (directories they may read)`,
    );
  }
  const refused = () =>
    new CaMaterialError(
      `could not load data: open ${file}: not a readable regular file in the directories of ${FILE_SOURCE_DIRS_SETTING}`,
    );
  if (!isAbsolute(file)) throw refused();
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw refused();
  }
  const allowed = realDirs(policy.allowedDirs).some((dir) => within(real, dir));
  if (!allowed || realDirs(policy.deniedDirs).some((dir) => within(real, dir))) throw refused();
  let fd: number;
  try {
    // No link followed, no wait on a FIFO: only the regular file just resolved is read.
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    throw refused();
  }
  try {
    // A directory swapped for a link between the check and the open would lead elsewhere: check what was opened.
    const opened = openedPath(fd);
    if (opened !== undefined && opened !== real) throw refused();
    const info = fstatSync(fd);
    if (!info.isFile()) throw refused();
    if (info.size > MAX_FILE_BYTES)
      throw new CaMaterialError(`could not load data: ${file} is larger than ${MAX_FILE_BYTES} bytes`);
    const buffer = Buffer.alloc(info.size);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read);
  } catch (err) {
    if (err instanceof CaMaterialError) throw err;
    throw refused();
  } finally {
    closeSync(fd);
  }
}
