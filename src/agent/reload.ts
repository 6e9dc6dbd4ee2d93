/**
 * The proxy reload command (`--reload-command`): run through the shell after every file-set switch. Its exit status
 * decides whether the agent may tell the control plane that the proxy holds the new material.
 */
import { spawn } from 'node:child_process';

export interface ReloadOutcome {
  ok: boolean;
  /** Exit code, or null when killed. */
  code: number | null;
  timedOut: boolean;
  durationMs: number;
  /** The last bytes of stdout and stderr together, for the log. */
  output: string;
}

const MAX_OUTPUT = 4096;

/**
 * Runs `command` with `sh -c` in its own process group (so a timeout kills everything it started), with the file
 * set's directory and bundle version in the environment: MESHCP_DP_OUTPUT_DIR, MESHCP_DP_BUNDLE_VERSION.
 */
export function runReloadCommand(
  command: string,
  timeoutMs: number,
  env: Record<string, string>,
): Promise<ReloadOutcome> {
  const started = performance.now(); // a real process's real duration: monotonic, not the (injectable) clock
  return new Promise((resolve) => {
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    };
    // The proxy's reload has no business with the agent's dataplane token.
    const { MESHCP_DP_TOKEN: _token, ...inherited } = process.env;
    const child = spawn('/bin/sh', ['-c', command], {
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const finish = (code: number | null, error?: Error) => {
      clearTimeout(timer);
      if (error) keep(Buffer.from(error.message));
      resolve({
        ok: code === 0 && !timedOut,
        code,
        timedOut,
        durationMs: Math.round(performance.now() - started),
        output: output.trim(),
      });
    };
    child.once('error', (err) => finish(null, err));
    child.once('close', (code) => finish(code));
  });
}
