/** Atomic file writes: a proxy watching the directory never reads a half-written PEM. */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function writeFileAtomic(dir: string, name: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const target = join(dir, name);
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, content, { mode, flag: 'wx' });
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export interface PemFiles {
  certPem?: string;
  keyPem?: string;
  caPem?: string;
}

/** Writes the given files; the key (0600) goes first so cert.pem never names a key that is not there yet. */
export async function writePemFiles(dir: string, files: PemFiles): Promise<void> {
  if (files.keyPem !== undefined) await writeFileAtomic(dir, 'key.pem', files.keyPem, 0o600);
  if (files.certPem !== undefined) await writeFileAtomic(dir, 'cert.pem', files.certPem);
  if (files.caPem !== undefined) await writeFileAtomic(dir, 'ca.pem', files.caPem);
}
