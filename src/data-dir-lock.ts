/**
 * One process per SQLite data directory: `<data dir>/meshcp.lock` names the process that holds it (PID, its start
 * time and, once it listens, its ports). The lock dies with its holder: a lock whose PID no longer runs — or runs
 * but started at another time, i.e. a reused PID — is stale and taken over.
 */
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'meshcp.lock';

interface LockHolder {
  pid: number;
  /** The process's start time as the kernel counts it (/proc/<pid>/stat), when known: tells a reused PID apart. */
  startTime?: string;
  ports?: Record<string, number>;
}

export class DataDirLocked extends Error {}

/** Fields of /proc/<pid>/stat after the parenthesised command name (which may hold spaces): state first. */
function statOf(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
const startTimeOf = (pid: number) => statOf(pid)?.[19];

/** The holder still runs: the PID is alive and, where the kernel says so, it is the same process that wrote the lock. */
function holderAlive(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = statOf(holder.pid);
  if (stat?.[0] === 'Z') return false; // exited, not yet reaped by its parent
  const now = stat?.[19];
  return holder.startTime === undefined || now === undefined || now === holder.startTime;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return Number.isInteger(parsed.pid) && parsed.pid > 0 ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function describeHolder(holder: LockHolder): string {
  const ports = Object.entries(holder.ports ?? {});
  const where =
    ports.length > 0 ? ports.map(([name, port]) => `${name} port ${port}`).join(', ') : 'still starting, no port yet';
  return `PID ${holder.pid}, ${where}`;
}

export class DataDirLock {
  private constructor(
    private readonly path: string,
    private readonly holder: LockHolder,
  ) {}

  /** Takes the lock of `dataDir`, or throws `DataDirLocked` naming the live process that holds it. */
  static acquire(dataDir: string, variable = 'MESHCP_DATA_DIR'): DataDirLock {
    const path = join(dataDir, LOCK_FILE);
    const holder: LockHolder = { pid: process.pid, startTime: startTimeOf(process.pid) };
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const other = readHolder(path);
        if (other && other.pid !== process.pid && holderAlive(other)) {
          throw new DataDirLocked(
            `the data directory ${dataDir} is in use by another meshcp process (${describeHolder(other)}): one process owns an ` +
              `SQLite data directory. Stop that process, or give this one another ${variable}`,
          );
        }
        // Stale (its process is gone) or unreadable (a crash while writing it): take it over.
        try {
          unlinkSync(path);
        } catch (unlinkErr) {
          if ((unlinkErr as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkErr;
        }
        continue;
      }
      try {
        writeSync(fd, JSON.stringify(holder));
      } finally {
        closeSync(fd);
      }
      const lock = new DataDirLock(path, holder);
      process.once('exit', () => lock.release());
      return lock;
    }
    throw new DataDirLocked(`could not take the lock ${path}: other processes keep replacing it`);
  }

  /** Adds the ports this process listens on, for the message another process gets. */
  recordPorts(ports: Record<string, number>): void {
    this.holder.ports = ports;
    const temp = `${this.path}.${process.pid}`;
    writeFileSync(temp, JSON.stringify(this.holder), { mode: 0o600 });
    renameSync(temp, this.path);
  }

  /** Removes the lock if it is still this process's. */
  release(): void {
    if (readHolder(this.path)?.pid !== this.holder.pid) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
