/** meshcp-dp: the reference dataplane agent as a command. Logs are JSON lines on stdout. */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, CommanderError } from 'commander';
import { systemClock } from '../domain/clock.js';
import { parseDuration } from '../resources/duration.js';
import { DataplaneAgent, type AgentEvent } from './agent.js';
import { dataplaneFromFile, dataplaneFromFlags, servePort } from './dataplane-spec.js';
import { EchoServer, parsePeers, PeerCaller } from './tls.js';

let dataplaneId: string | undefined;
const log = (event: AgentEvent) =>
  process.stdout.write(
    JSON.stringify({
      time: new Date(systemClock.now()).toISOString(),
      ...(dataplaneId ? { dataplane: dataplaneId } : {}),
      ...event,
    }) + '\n',
  );

function durationFlag(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === null) throw new Error(`${flag} must be a duration such as 30s or 500ms, got "${value}"`);
  return ms;
}

function positive(flag: string, ms: number): number {
  if (ms <= 0) throw new Error(`${flag} must be longer than 0`);
  return ms;
}

const collect = (value: string, all: string[] = []) => [...all, value];

interface Flags {
  cpAddress?: string[];
  requestTimeout: string;
  caCert?: string;
  token?: string;
  tokenFile?: string;
  dataplaneFile?: string;
  name?: string;
  mesh?: string;
  address?: string;
  inbound?: string[];
  outputDir?: string;
  csr: boolean;
  pollWait: string;
  reissueDelay: string;
  serve?: boolean;
  serveAddress?: string;
  call?: string[];
  callInterval: string;
  reloadCommand?: string;
  reloadTimeout: string;
}

const program = new Command('meshcp-dp')
  .description(
    'Reference dataplane agent: registers a Dataplane, keeps its mTLS certificate and trust bundle fresh in --output-dir',
  )
  // Several instances of one control plane: comma separated, or the flag repeated (env MESHCP_ADDRESS: comma separated).
  .option(
    '--cp-address <url,...>',
    'control-plane API address; several (comma separated or repeated) are tried in order (env MESHCP_ADDRESS; default http://127.0.0.1:5681)',
    collect,
  )
  .option(
    '--request-timeout <duration>',
    'bound on one request to one control-plane address before the next is tried (a long-poll gets --poll-wait on top)',
    '15s',
  )
  .option('--ca-cert <file>', 'CA certificate to verify an https:// control plane')
  .option('--token <jwt>', 'dataplane token (env MESHCP_DP_TOKEN)')
  .option(
    '--token-file <file>',
    'read the dataplane token from a file (waits for it to appear; re-read on every request)',
  )
  .option('--dataplane-file <file>', 'Dataplane resource (YAML or JSON) to register')
  .option('--name <name>', 'dataplane name (without --dataplane-file)')
  .option('--mesh <mesh>', 'mesh (default: default)')
  .option('--address <address>', 'networking.address of the dataplane')
  .option('--inbound <port:servicePort:service>', 'an inbound (repeatable)', collect)
  .option(
    '--output-dir <dir>',
    'where cert.pem, key.pem, ca.pem and cert-key.pem are published, switched atomically through ..data (default: ./meshcp-dp/<name>)',
  )
  .option(
    '--reload-command <cmd>',
    'shell command run after every switch of the output files (e.g. "nginx -s reload"); a new bundle is acknowledged only after it exits 0',
  )
  .option('--reload-timeout <duration>', 'time limit of one run of --reload-command', '30s')
  .option('--no-csr', 'let the control plane generate the private key (default: generate it here and send a CSR)')
  .option('--poll-wait <duration>', 'trust bundle long-poll duration', '30s')
  .option('--reissue-delay <duration>', 'upper bound of the random delay before a requested re-issue', '2s')
  .option('--serve', 'run an mTLS echo server on the first inbound port')
  .option(
    '--serve-address <ip>',
    'address the echo server binds (default: networking.address when it is an IP, else 0.0.0.0)',
  )
  .option(
    '--call <host:port,...>',
    'dial these peers over mTLS every --call-interval and log each handshake (repeatable)',
    collect,
  )
  .option('--call-interval <duration>', 'interval between calls', '1s')
  .exitOverride();

async function main(): Promise<void> {
  program.parse(process.argv);
  const flags = program.opts<Flags>();
  const dataplane = flags.dataplaneFile
    ? dataplaneFromFile(readFileSync(flags.dataplaneFile, 'utf8'), flags.dataplaneFile, {
        name: flags.name,
        mesh: flags.mesh,
      })
    : dataplaneFromFlags(flags);
  dataplaneId = `${dataplane.mesh}/${dataplane.name}`;
  const peers = parsePeers(flags.call ?? []);
  const callIntervalMs = durationFlag('--call-interval', flags.callInterval);
  const port = flags.serve ? servePort(dataplane) : 0;

  if (!flags.token && !flags.tokenFile && !process.env.MESHCP_DP_TOKEN)
    throw new Error('a dataplane token is required: --token, --token-file or MESHCP_DP_TOKEN');
  const tokenFile = flags.tokenFile;
  if (tokenFile && !existsSync(tokenFile)) {
    log({ event: 'waiting-for-token', file: tokenFile });
    while (!existsSync(tokenFile)) await sleep(1000);
  }
  const token = () =>
    flags.token ?? (tokenFile ? readFileSync(tokenFile, 'utf8').trim() : process.env.MESHCP_DP_TOKEN!);

  const agent = new DataplaneAgent({
    cpAddress: flags.cpAddress ?? process.env.MESHCP_ADDRESS ?? 'http://127.0.0.1:5681',
    requestTimeoutMs: positive('--request-timeout', durationFlag('--request-timeout', flags.requestTimeout)),
    token,
    caPem: flags.caCert ? readFileSync(flags.caCert, 'utf8') : undefined,
    dataplane,
    outputDir: flags.outputDir ?? join('meshcp-dp', dataplane.name),
    csr: flags.csr,
    pollWaitMs: durationFlag('--poll-wait', flags.pollWait),
    reissueDelayMs: durationFlag('--reissue-delay', flags.reissueDelay),
    log,
    reloadCommand: flags.reloadCommand,
    reloadTimeoutMs: durationFlag('--reload-timeout', flags.reloadTimeout),
  });

  let server: EchoServer | undefined;
  let caller: PeerCaller | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    await caller?.stop();
    await server?.stop();
    await agent.stop().catch(() => undefined);
    log({
      event: 'summary',
      signal,
      dataplane: `${dataplane.mesh}/${dataplane.name}`,
      certificates: agent.certificates,
      reloads: flags.reloadCommand ? { ok: agent.reloads, failed: agent.reloadFailures } : null,
      issuedBackend: agent.material?.issuedBackend ?? null,
      calls: caller ? { ...caller.totals(), perPeer: Object.fromEntries(caller.stats) } : null,
      serveHandshakeFailures: server?.handshakeFailures ?? null,
      serveConnections: server?.connections ?? null,
    });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  await agent.start();
  if (flags.serve) {
    const host = flags.serveAddress ?? (isIP(dataplane.networking.address) ? dataplane.networking.address : '0.0.0.0');
    server = new EchoServer(agent, { host, port, log });
    await server.start();
  }
  if (peers.length > 0) {
    caller = new PeerCaller(agent, peers, { mesh: dataplane.mesh, intervalMs: callIntervalMs, log });
    caller.start();
  }
}

main().catch((err) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if ((err as Error).message === 'agent stopped') return;
  process.stderr.write(`meshcp-dp: ${(err as Error).message}\n`);
  process.exit(1);
});
