// The real control plane as a child process (`node --import tsx src/main.ts`), on a free port with a fresh data dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CpProcess {
  baseUrl: string;
  dataDir: string;
  /** Every JSON log line the process wrote so far. */
  logs: Record<string, any>[];
  child: ChildProcess;
  stop(): Promise<number | null>;
}

/** `options.dataDir`: start on an existing data dir (a restart), which `stop()` then leaves in place. */
export async function startCpProcess(
  env: Record<string, string> = {},
  startTimeoutMs = 30_000,
  options: { dataDir?: string } = {},
): Promise<CpProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'meshcp-e2e-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      MESHCP_DATA_DIR: dataDir,
      MESHCP_API_ADDRESS: '127.0.0.1',
      MESHCP_API_HTTP_PORT: '0',
      MESHCP_API_HTTPS_PORT: '-1',
      MESHCP_DIAGNOSTICS_PORT: '-1',
      MESHCP_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, any>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the control plane did not start in time: ${stderr}`)), startTimeoutMs);
    void exited.then((code) => reject(new Error(`the control plane exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
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

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    logs,
    child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
