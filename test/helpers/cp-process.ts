// The one launcher of the real control plane as a child process, for the end-to-end tests and the benchmarks:
// `node --import tsx src/main.ts` (tests) or the compiled `node dist/main.js` as `npm start` runs it (bench), on a
// free port with a fresh data dir unless told otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CpExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CpProcess {
  baseUrl: string;
  dataDir: string;
  /** Every JSON log line the process wrote so far. */
  logs: Record<string, any>[];
  /** Everything it wrote so far, stdout then stderr as they came. */
  output(): string;
  child: ChildProcess;
  exited: Promise<CpExit>;
  /** SIGTERM, then the exit code once it has exited (a fresh data dir is removed). */
  stop(): Promise<number | null>;
}

export interface CpOptions {
  /** Start on an existing data dir (a restart), which `stop()` then leaves in place. */
  dataDir?: string;
  /** 'source' (default): through tsx, as the tests run; 'compiled': dist/main.js, as `npm start` runs it. */
  entry?: 'source' | 'compiled';
  /** Also append stdout to this file, as a production log would be (the benchmarks keep it next to the data). */
  logFile?: string;
}

/** The environment every launch starts from: loopback only, any free port, HTTPS and diagnostics off, JSON info logs. */
function cpEnv(dataDir: string, env: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MESHCP_DATA_DIR: dataDir,
    MESHCP_API_ADDRESS: '127.0.0.1',
    MESHCP_API_HTTP_PORT: '0',
    MESHCP_API_HTTPS_PORT: '-1',
    MESHCP_DIAGNOSTICS_PORT: '-1',
    MESHCP_LOG_LEVEL: 'info',
    ...env,
  };
}

function spawnCp(
  dataDir: string,
  env: Record<string, string>,
  entry: CpOptions['entry'],
  command: string[] = [],
): ChildProcess {
  const args = entry === 'compiled' ? ['dist/main.js'] : ['--import', 'tsx', 'src/main.ts'];
  return spawn(process.execPath, [...args, ...command], {
    cwd: ROOT,
    env: cpEnv(dataDir, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Resolves once `baseUrl` answers a request. main.ts logs "HTTP API listening" before it installs its SIGTERM
 * handler; an answered request means its startup ran to the end, so a SIGTERM now is a clean shutdown, not a kill.
 */
async function answering(baseUrl: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await (await fetch(`${baseUrl}/healthz`)).arrayBuffer();
      return;
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

function exitOf(child: ChildProcess): Promise<CpExit> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Starts the control plane and resolves once it logs "HTTP API listening" (with the port it chose). */
export async function startCpProcess(
  env: Record<string, string> = {},
  startTimeoutMs = 30_000,
  options: CpOptions = {},
): Promise<CpProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'meshcp-e2e-'));
  const child = spawnCp(dataDir, env, options.entry);
  const logs: Record<string, any>[] = [];
  let output = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    output += chunk;
  });
  const exited = exitOf(child);

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the control plane did not start in time: ${stderr}`)),
      startTimeoutMs,
    );
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the control plane exited with ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      if (options.logFile) appendFileSync(options.logFile, `${line}\n`);
      let entry: Record<string, any>;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'HTTP API listening' && entry.address?.port) {
        clearTimeout(timer);
        resolve(entry.address.port);
      }
    });
  });

  await answering(`http://127.0.0.1:${port}`);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    logs,
    output: () => output,
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const { code } = await exited;
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * Runs the control plane on a fresh data dir until it exits by itself (a refused start, or a one-shot `command` such
 * as `migrate up`), or until its stdout satisfies `stopWhen` and its API answers (then SIGTERM), for output that is
 * not the JSON log: errors, pretty logs.
 */
export async function runCpProcess(
  env: Record<string, string>,
  options: { stopWhen?: (stdout: string) => boolean; timeoutMs?: number; command?: string[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshcp-run-'));
  const child = spawnCp(dataDir, env, 'source', options.command);
  let stdout = '';
  let stderr = '';
  const stopWhen = options.stopWhen;
  let stopping = false;
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    const url = /"url":"(http:[^"]+)"/.exec(stdout)?.[1];
    if (stopping || !url || !stopWhen?.(stdout)) return;
    stopping = true;
    void answering(url).finally(() => child.kill('SIGTERM'));
  });
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  try {
    // 'close', not 'exit': the streams are drained by then.
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
