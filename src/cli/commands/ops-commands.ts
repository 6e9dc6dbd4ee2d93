/** kumactl habits in meshctl: version, config control-planes, inspect dataplane <name>. */
import type { Command } from 'commander';
import { configFilePath } from '../config.js';
import { parseAddressList } from '../../client/addresses.js';
import {
  addControlPlane,
  readControlPlanes,
  removeControlPlane,
  switchControlPlane,
  writeControlPlanes,
} from '../control-planes.js';
import { renderTable, toJson, toYaml, type OutputFormat } from '../format.js';
import type { ApiClient } from '../../client/http.js';
import { UsageError } from '../resources.js';
import type { DataplaneCertificateFacts, DataplaneOverview } from '../types.js';
import { VERSION } from '../../version.js';
import type { CliIo } from '../io.js';

type ClientOf = (cmd: Command) => ApiClient;

export function registerOpsCommands(program: Command, io: CliIo, clientOf: ClientOf): void {
  program
    .command('version')
    .description('the versions of meshctl and of the control plane it talks to')
    .action(async (_opts: unknown, cmd: Command) => {
      io.stdout.write(`Client: meshctl ${VERSION}\n`);
      const client = clientOf(cmd);
      const index = await client.getJson<{ product?: string; version?: string; instanceId?: string }>('/');
      io.stdout.write(`Server: ${index.product ?? 'unknown'} ${index.version ?? 'unknown'} at ${client.address}\n`);
    });

  const config = program.command('config').description("meshctl's configuration file");
  const planes = config
    .command('control-planes')
    .description('named control planes, as kumactl (the current one is used by default)');
  const file = () => configFilePath(io.env);
  planes
    .command('add')
    .description(
      'add a control plane (--address, e.g. https://cp.example.com:5682 or cp.example.com:5681) and make it the current one',
    )
    .requiredOption('--name <name>', 'a name for it')
    // --address is meshctl's global flag (commander gives it to the program wherever it is typed): read it from there.
    // --token-file and --ca-cert, also global flags, are stored with it when given.
    .option('--overwrite', 'replace a control plane of the same name')
    .action((opts: { name: string; tokenFile?: string; caCert?: string; overwrite?: boolean }, cmd: Command) => {
      const { address, tokenFile, caCert } = cmd.optsWithGlobals() as {
        address?: string[];
        tokenFile?: string;
        caCert?: string;
      };
      if (!address?.length)
        throw new UsageError('config control-planes add needs --address <address> of the control plane');
      // Several addresses (the instances of one HA control plane) are kept as a list, tried in order.
      const addresses = parseAddressList(address);
      const entry = {
        name: opts.name,
        address: addresses.length === 1 ? addresses[0] : addresses,
        ...(tokenFile ? { tokenFile } : {}),
        ...(caCert ? { caCert } : {}),
      };
      writeControlPlanes(file(), addControlPlane(readControlPlanes(file()), entry, opts.overwrite === true));
      io.stdout.write(`added control plane "${opts.name}" (${addresses.join(', ')}) and switched to it\n`);
    });
  planes
    .command('list')
    .description('the configured control planes; * marks the current one')
    .action(() => {
      const current = readControlPlanes(file());
      const list = current.controlPlanes ?? [];
      if (list.length === 0) {
        io.stdout.write(
          `no control planes configured in ${file()} (meshctl config control-planes add --name <name> --address <address>)\n`,
        );
        return;
      }
      io.stdout.write(
        renderTable(
          ['ACTIVE', 'NAME', 'ADDRESS'],
          list.map((cp) => [cp.name === current.currentContext ? '*' : '', cp.name, [cp.address].flat().join(',')]),
        ),
      );
    });
  planes
    .command('switch')
    .description('use another configured control plane')
    .requiredOption('--name <name>', 'its name')
    .action((opts: { name: string }) => {
      writeControlPlanes(file(), switchControlPlane(readControlPlanes(file()), opts.name));
      io.stdout.write(`switched to control plane "${opts.name}"\n`);
    });
  planes
    .command('remove')
    .description('forget a control plane')
    .requiredOption('--name <name>', 'its name')
    .action((opts: { name: string }) => {
      const next = removeControlPlane(readControlPlanes(file()), opts.name);
      writeControlPlanes(file(), next);
      io.stdout.write(
        `removed control plane "${opts.name}"${next.currentContext ? `; current: "${next.currentContext}"` : ''}\n`,
      );
    });
}

/** One dataplane: its certificate, the bundle it acknowledged, trusted and issued backends, last contact. */
export async function inspectDataplane(
  io: CliIo,
  client: ApiClient,
  mesh: string,
  name: string,
  format: OutputFormat,
): Promise<void> {
  const base = `/meshes/${encodeURIComponent(mesh)}/dataplanes/${encodeURIComponent(name)}`;
  const overview = await client.getJson<DataplaneOverview>(`${base}/_overview`);
  const facts = await client.getJson<DataplaneCertificateFacts>(`${base}/_certificate-facts`);
  const { mesh: _mesh, name: _name, ...known } = facts; // the same names, printed first
  const view = {
    mesh,
    name,
    address: overview.dataplane.networking?.address ?? null,
    services: (overview.dataplane.networking?.inbound ?? []).map((i) => i.tags?.['kuma.io/service']).filter(Boolean),
    ...known,
  };
  if (format === 'json') return void io.stdout.write(toJson(view));
  if (format === 'yaml') return void io.stdout.write(toYaml(view));
  const certificate = facts.issuedBackend
    ? `serial ${facts.issuedSerial ?? '?'} issued by ${facts.issuedBackend}, expires ${facts.certNotAfter} (${facts.certificateRegenerations} issued, last ${facts.lastIssueTime})`
    : 'none issued yet';
  const lines = [
    `Dataplane ${mesh}/${name}${view.address ? ` (${view.address})` : ''}${view.services.length ? `, services ${view.services.join(', ')}` : ''}`,
    `  certificate:         ${certificate}`,
    `  proxy serves:        ${facts.servedSerial ? `serial ${facts.servedSerial}` : 'not reported'}`,
    `  acknowledged bundle: ${facts.acknowledgedBundleVersion ?? 'none'}`,
    `  trusts:              ${facts.trustedBackends.length ? facts.trustedBackends.join(', ') : '-'}`,
    `  last contact:        ${facts.lastContact ?? 'never'}${facts.lastContact ? (facts.online ? ' (online)' : ' (offline)') : ''}`,
  ];
  io.stdout.write(lines.join('\n') + '\n');
}
