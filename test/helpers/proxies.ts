// Real nginx and HAProxy (the Debian packages) as child processes on loopback ports, each with its own config, pid
// and log files in a temp dir, serving mutual TLS from a meshcp-dp output directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RealProxy {
  kind: 'nginx' | 'haproxy';
  port: number;
  /** The master's pid file, for the reload command. */
  pidFile: string;
  /** The body every successful request answers. */
  body: string;
  logs(): string;
  stop(): Promise<void>;
}

/** An nginx config: mTLS on `port` from the stable names in `certDir`, every request answered by nginx itself. */
function nginxConfig(dir: string, port: number, certDir: string): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certDir}/cert.pem;
    ssl_certificate_key ${certDir}/key.pem;
    ssl_client_certificate ${certDir}/ca.pem;
    ssl_verify_client on;
    location / { return 200 "nginx ok\\n"; }
  }
}
`;
}

/** An HAProxy config: the certificate and key from cert-key.pem, peers verified against ca.pem. */
function haproxyConfig(dir: string, port: number, certDir: string): string {
  return `global
  pidfile ${dir}/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend mesh_inbound
  bind 127.0.0.1:${port} ssl crt ${certDir}/cert-key.pem ca-file ${certDir}/ca.pem verify required
  http-request return status 200 content-type text/plain string "haproxy ok\\n"
`;
}

/** Starts the proxy in the foreground (nginx `daemon off`, HAProxy master-worker `-W -db`) and waits for its pid file. */
export async function startProxy(
  kind: 'nginx' | 'haproxy',
  dir: string,
  port: number,
  certDir: string,
): Promise<RealProxy> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const conf = join(dir, `${kind}.conf`);
  const pidFile = join(dir, `${kind}.pid`);
  writeFileSync(conf, kind === 'nginx' ? nginxConfig(dir, port, certDir) : haproxyConfig(dir, port, certDir));
  const args =
    kind === 'nginx'
      ? ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;']
      : ['-W', '-db', '-f', conf];
  const child: ChildProcess = spawn(kind, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let spawnError: Error | undefined;
  // A missing package shows up here: .ci/run installs nginx and haproxy (Debian 12).
  child.once('error', (err) => (spawnError = err));
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logs = () => output + (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '');
  const deadline = Date.now() + 10_000;
  while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() !== String(child.pid)) {
    if (spawnError) throw new Error(`cannot run ${kind} (install the Debian package "${kind}"): ${spawnError.message}`);
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL'); // never leave a half-started proxy behind
      throw new Error(`${kind} did not start: ${logs()}`);
    }
    await sleep(20);
  }
  return {
    kind,
    port,
    pidFile,
    body: `${kind} ok`,
    logs,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM'); // both masters stop their workers on TERM
      const killed = sleep(5_000).then(() => child.kill('SIGKILL'));
      await Promise.race([exited, killed]);
    },
  };
}
