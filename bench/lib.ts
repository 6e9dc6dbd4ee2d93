import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCpProcess, type CpProcess } from '../test/helpers/cp-process.js';

export const ROOT = new URL('..', import.meta.url).pathname;

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** An ECDSA P-256 CA made by openssl, as PEM files in `dir`. */
export function makeEcdsaCa(dir: string, name = 'bench-ca'): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '30',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}

/** A P-256 CSR made by openssl (the same request for both sides of a comparison). */
export function makeCsr(dir: string, name = 'bench'): string {
  const csrFile = join(dir, `${name}.csr`);
  execFileSync(
    'openssl',
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      csrFile,
    ],
    { stdio: 'ignore' },
  );
  return readFileSync(csrFile, 'utf8');
}

/**
 * Starts the real control plane as `npm start` runs it (compiled, `dist/main.js`; `bench/run.ts` builds first) on a
 * free loopback port (admin from loopback, HTTPS off), its log also written to `meshcp.log` in the data dir as in
 * production. The launcher is the tests' own (test/helpers/cp-process.ts), so bench and tests start it one way.
 */
export async function startMeshcp(dataDir: string, env: Record<string, string> = {}): Promise<CpProcess> {
  mkdirSync(dataDir, { recursive: true });
  return startCpProcess(env, 30_000, { dataDir, entry: 'compiled', logFile: join(dataDir, 'meshcp.log') });
}

export async function api(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function writeJson(file: string, data: unknown): void {
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
}

/** CPU seconds (user + system) and peak RSS (MiB) of a running process, from /proc. */
export function processUsage(pid: number): { cpuSeconds: number; peakRssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]);
  return { cpuSeconds: ticks / 100, peakRssMiB: Math.round(hwm / 1024) };
}

/** CPU seconds (user + system) of a process's main thread (its tid is the pid) and of all its threads together. */
export function threadCpuSeconds(pid: number): { main: number; all: number } {
  const ticksOf = (stat: string) => {
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  const main = ticksOf(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
  const all = ticksOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return { main: main / 100, all: all / 100 };
}

export function meshWithProvidedCa(certPem: string, keyPem: string) {
  return {
    type: 'Mesh',
    name: 'default',
    mtls: {
      enabledBackend: 'ca-1',
      backends: [
        { name: 'ca-1', type: 'provided', conf: { cert: { inlineString: certPem }, key: { inlineString: keyPem } } },
      ],
    },
  };
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  openssl: string;
  os: string;
  cfssl: string;
  loadAverage: number[];
  at: string;
}

/** What a result means nothing without: the machine it ran on, its load when it started, and when. */
export function describeMachine(): Machine {
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  const cfssl = (() => {
    try {
      return execFileSync('cfssl', ['version'], { encoding: 'utf8' }).split('\n')[0];
    } catch {
      return 'not installed';
    }
  })();
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    openssl: process.versions.openssl,
    os: `${/PRETTY_NAME="([^"]+)"/.exec(osRelease)?.[1] ?? 'unknown'}, Linux ${release()}`,
    cfssl,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    at: new Date().toISOString(),
  };
}
