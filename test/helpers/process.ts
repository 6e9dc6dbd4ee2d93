import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface RunningControlPlane {
  child: ChildProcess;
  baseUrl: string;
  log: string[];
}

/** Starts the real control plane (`src/main.ts`) on a free port and waits for its "HTTP API listening" line. */
export async function startControlPlane(dataDir: string, env: Record<string, string> = {}): Promise<RunningControlPlane> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, MESHCP_DATA_DIR: dataDir, MESHCP_API_HTTP_PORT: '0', MESHCP_API_HTTPS_PORT: '-1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => reject(new Error(`control plane did not start: ${stderr}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        log.push(line);
        if (line.includes('HTTP API listening')) {
          clearTimeout(timer);
          resolve(JSON.parse(line).url);
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`control plane exited with ${code}: ${stderr}`)));
  });
  return { child, baseUrl, log };
}

export async function stopControlPlane(cp: RunningControlPlane, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (cp.child.exitCode !== null) return cp.child.exitCode;
  cp.child.kill(signal);
  const [code] = await once(cp.child, 'exit');
  return code as number | null;
}
