// One process per SQLite data directory, with real control-plane processes: a second start on a held directory is
// refused naming the holder's PID and ports; the lock dies with its holder (SIGKILL leaves a stale lock that the
// next start takes over). And a start whose ports are taken names every one of them at once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataDirLock, DataDirLocked, LOCK_FILE } from '../../src/data-dir-lock.js';
import { runCpProcess, startCpProcess, type CpProcess } from '../helpers/cp-process.js';

const work = mkdtempSync(join(tmpdir(), 'meshcp-lock-'));
const started: CpProcess[] = [];
after(async () => {
  await Promise.all(started.map((cp) => cp.stop()));
  rmSync(work, { recursive: true, force: true });
});

const portOf = (cp: CpProcess, msg: string) => cp.logs.find((l) => l.msg === msg)!.address.port as number;

describe('one control-plane process per data directory', { timeout: 90_000 }, () => {
  it('a second process on the same data dir (other ports) is refused, naming the holder; after a SIGKILL the next one starts', async () => {
    const dataDir = join(work, 'data');
    const first = await startCpProcess({ MESHCP_DIAGNOSTICS_PORT: '0' }, 30_000, { dataDir });
    started.push(first);
    const [http, diagnostics] = [
      portOf(first, 'HTTP API listening'),
      portOf(first, 'diagnostics listening (Prometheus metrics)'),
    ];

    const second = await runCpProcess({ MESHCP_DIAGNOSTICS_PORT: '0' }, { dataDir });
    assert.equal(second.code, 1, second.stdout);
    assert.equal(
      second.stderr,
      `meshcp: the data directory ${dataDir} is in use by another meshcp process (PID ${first.child.pid}, HTTP port ${http}, diagnostics port ${diagnostics}): ` +
        'one process owns an SQLite data directory. Stop that process, or give this one another MESHCP_DATA_DIR\n',
    );
    assert.equal((await fetch(`${first.baseUrl}/readyz`)).status, 200, 'the holder is undisturbed');

    // The lock dies with its holder: killed without a chance to clean up, its lock file stays, naming a dead PID.
    first.child.kill('SIGKILL');
    await first.exited;
    assert.equal(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')).pid, first.child.pid);
    const next = await startCpProcess({}, 30_000, { dataDir });
    started.push(next);
    assert.equal(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')).pid, next.child.pid);
    assert.equal(await next.stop(), 0);
    assert.equal(existsSync(join(dataDir, LOCK_FILE)), false, 'a clean stop removes the lock');
  });

  it('a lock naming a live PID that started at another time (a reused PID) is stale; a live holder is not', async () => {
    const dir = mkdtempSync(join(work, 'reused-'));
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: child.pid, startTime: '1' }));
      DataDirLock.acquire(dir).release();
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: child.pid, ports: { HTTP: 5681 } }));
      assert.throws(
        () => DataDirLock.acquire(dir),
        (err: Error) => err instanceof DataDirLocked && err.message.includes(`(PID ${child.pid}, HTTP port 5681)`),
      );
      writeFileSync(join(dir, LOCK_FILE), 'garbage from a crash while writing');
      DataDirLock.acquire(dir).release();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a start whose ports are taken names every one of them at once', async () => {
    const holder = await startCpProcess({ MESHCP_DIAGNOSTICS_PORT: '0' });
    started.push(holder);
    const [http, diagnostics] = [
      portOf(holder, 'HTTP API listening'),
      portOf(holder, 'diagnostics listening (Prometheus metrics)'),
    ];
    const refused = await runCpProcess({
      MESHCP_API_HTTP_PORT: String(http),
      MESHCP_DIAGNOSTICS_PORT: String(diagnostics),
    });
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `meshcp: port ${http} is already in use: stop what uses it or set MESHCP_API_HTTP_PORT to another port (0 picks a free one)\n` +
        `meshcp: port ${diagnostics} is already in use: stop what uses it or set MESHCP_DIAGNOSTICS_PORT to another port (0 picks a free one)\n`,
    );
  });
});
