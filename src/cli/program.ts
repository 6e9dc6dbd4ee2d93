/** meshctl: the commander program. Command logic lives in the small modules it imports. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { parseDuration } from '../resources/duration.js';
import { checkMesh, renderFindings } from './check.js';
import { inspectDataplane, registerOpsCommands } from './commands/ops-commands.js';
import { runRotate } from './commands/rotate.js';
import { registerMigrateIdentity } from './commands/migrate-identity-command.js';
import { handleLeftBehindSecrets } from './commands/prune-secrets.js';
import { ConfigFileError, resolveConnection, type ConnectionFlags } from './config.js';
import {
  dataplaneInsightTable,
  parseOutputFormat,
  renderTable,
  resourceTable,
  toJson,
  toYaml,
  type OutputFormat,
} from './format.js';
import { AddressList } from '../client/addresses.js';
import { ApiCallError, ApiClient, ConnectionError } from '../client/http.js';
import { DEFAULT_MESH, ManifestError, parseManifests, planApply } from './manifests.js';
import { itemPath, listPath, resourceTypeByName, UsageError } from './resources.js';
import { renderRotationStatus } from './rotation-view.js';
import { parseTagFlags, withDataplaneServiceTag } from './token-tags.js';
import { CLEAR_SCREEN, safeOutput, StatusLine } from './terminal.js';
import type { CliIo } from './io.js';

import type { DataplaneOverview, MeshResource, RotationStatus } from './types.js';
import { VERSION } from '../version.js';

/** A failure with a chosen exit code and already readable lines. */
class CliError extends Error {
  constructor(
    readonly lines: string[],
    readonly exitCode = 1,
    /** Printed after the error lines as `hint: ...`. */
    readonly hints: string[] = [],
  ) {
    super(lines.join('\n'));
  }
}

function duration(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === null) throw new UsageError(`${flag} must be a duration such as 30s, 5m, 30d or 1h30m, got "${value}"`);
  return ms;
}

function output(io: CliIo, format: OutputFormat, value: unknown, table: () => string): void {
  io.stdout.write(format === 'json' ? toJson(value) : format === 'yaml' ? toYaml(value) : table());
}

const outputOption = () =>
  new Option('-o, --output <format>', 'output format: table, yaml or json')
    .default('table')
    .argParser(parseOutputFormat);

function buildProgram(io: CliIo): Command {
  const program = new Command('meshctl')
    .description('Operate a meshcp control plane: resources, dataplane tokens, and CA rotations')
    .version(VERSION)
    .option(
      '--address <url,...>',
      'control-plane API address; several instances (comma separated or repeated) are tried in order (env MESHCP_ADDRESS; default http://127.0.0.1:5681)',
      (value: string, all: string[] = []) => [...all, value],
    )
    .option('--request-timeout <duration>', 'bound on one request to one address before the next is tried', '15s')
    .option('--verbose', 'say on stderr which control-plane address answered, and why one was left')
    .option(
      '--token <token>',
      'admin token; visible to other users in the process list: prefer --token-file or MESHCP_TOKEN_FILE (env MESHCP_TOKEN)',
    )
    .option(
      '--token-file <file>',
      'read the admin token from a file, e.g. <data dir>/admin-token (env MESHCP_TOKEN_FILE)',
    )
    .option('--ca-cert <file>', 'CA certificate to verify an https:// control plane (env MESHCP_CA_CERT)')
    .option('--insecure-skip-verify', 'do not verify the HTTPS certificate of the control plane')
    // A mistyped command gets commander's "(Did you mean ...?)" and one pointer to --help, not the whole help.
    .showHelpAfterError("(run 'meshctl --help' for usage)")
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    })
    .exitOverride();

  const clientOf = (cmd: Command): ApiClient => {
    const flags = cmd.optsWithGlobals() as ConnectionFlags & { requestTimeout: string; verbose?: boolean };
    const timeoutMs = duration('--request-timeout', flags.requestTimeout);
    if (timeoutMs <= 0) throw new UsageError('--request-timeout must be longer than 0');
    const connection = resolveConnection(flags, { env: io.env });
    for (const warning of connection.warnings ?? []) io.stderr.write(`meshctl: warning: ${warning}\n`);
    // Only --verbose says where the answer came from: scripts read the same output whichever instance served it.
    const say = flags.verbose ? (line: string) => void io.stderr.write(`meshctl: ${line}\n`) : undefined;
    let answeredBy: string | undefined;
    return new ApiClient({
      address: new AddressList(
        connection.addresses,
        say && (({ from, to, reason }) => say(`${from} did not answer (${reason}); trying ${to}`)),
      ),
      token: connection.token,
      caPem: connection.caPem,
      insecure: connection.insecure,
      userAgent: `meshctl/${VERSION}`,
      timeoutMs,
      onAnswer: say && ((address) => address !== answeredBy && say(`answered by ${(answeredBy = address)}`)),
    });
  };

  // ---- apply ----------------------------------------------------------------------------------------------------
  program
    .command('apply')
    .description('create or replace resources from a YAML or JSON manifest (several --- documents allowed)')
    .requiredOption('-f, --file <file>', 'manifest file, or - for stdin')
    .option('--dry-run', 'validate on the server (?dryRun=true): same answer, nothing written')
    .option('--force', 'skip the CA rotation rules (?force=true; admin only, logged as a warning)')
    .action(async (opts: { file: string; dryRun?: boolean; force?: boolean }, cmd: Command) => {
      const text = opts.file === '-' ? await io.readStdin() : readFileSync(opts.file, 'utf8');
      const items = planApply(parseManifests(text, opts.file === '-' ? 'stdin' : opts.file));
      if (items.length === 0) throw new CliError([`${opts.file === '-' ? 'stdin' : opts.file}: no resources to apply`]);
      const client = clientOf(cmd);
      for (const item of items) {
        let status: number;
        try {
          const query = { dryRun: opts.dryRun ? 'true' : undefined, force: opts.force ? 'true' : undefined };
          status = (await client.put(item.path, item.body, query)).status;
        } catch (err) {
          if (!(err instanceof ApiCallError)) throw err;
          const lines = err.lines.map((l) => `${item.label}: ${l}`);
          const hints: string[] = [];
          if (err.retryAfterSeconds !== undefined && item.type.kind === 'Mesh') {
            hints.push(
              `waiting helps (Retry-After ${err.retryAfterSeconds}s): meshctl rotation status --mesh ${item.name} --watch`,
            );
          }
          if (
            err.status === 409 &&
            item.type.kind === 'Mesh' &&
            err.causes.some((c) => c.field === 'mtls' && c.message.startsWith('cannot turn mTLS off'))
          ) {
            hints.push(
              `to turn mTLS off anyway (those dataplanes get no new certificate): meshctl apply -f ${opts.file} --force`,
            );
          }
          throw new CliError(lines, 1, hints);
        }
        io.stdout.write(
          `${item.label} ${status === 201 ? 'created' : 'configured'}${opts.dryRun ? ' (dry run)' : ''}\n`,
        );
      }
    });

  // ---- get ------------------------------------------------------------------------------------------------------
  program
    .command('get')
    .description('list resources, or show one: meshes, secrets, dataplanes, global-secrets')
    .argument('<type>', 'meshes | secrets | dataplanes | global-secrets')
    .argument('[name]', 'one resource by name')
    .option('-m, --mesh <mesh>', 'mesh of secrets/dataplanes (lists: every mesh when omitted; one resource: default)')
    .addOption(outputOption())
    .action(
      async (
        typeName: string,
        name: string | undefined,
        opts: { mesh?: string; output: OutputFormat },
        cmd: Command,
      ) => {
        const type = resourceTypeByName(typeName);
        const client = clientOf(cmd);
        const now = io.now();
        if (name !== undefined) {
          const mesh = opts.mesh ?? DEFAULT_MESH;
          let item: Record<string, unknown>;
          try {
            item = await client.getJson<Record<string, unknown>>(itemPath(type, name, mesh));
          } catch (err) {
            throw notFoundAsLine(err, type.meshScoped ? `${type.kind} ${mesh}/${name}` : `${type.kind} ${name}`);
          }
          output(io, opts.output, item, () => resourceTable(type, [item], now, type.meshScoped));
          return;
        }
        const path = listPath(type, type.meshScoped ? opts.mesh : undefined);
        const items = await client.listAll<Record<string, unknown>>(path);
        output(io, opts.output, { total: items.length, items, next: null }, () =>
          items.length === 0
            ? `no ${type.plural} found\n`
            : resourceTable(type, items, now, type.meshScoped && opts.mesh === undefined),
        );
      },
    );

  // ---- delete ---------------------------------------------------------------------------------------------------
  program
    .command('delete')
    .description('delete a resource')
    .argument('<type>', 'mesh | secret | dataplane | global-secret')
    .argument('<name>')
    .option('-m, --mesh <mesh>', 'mesh of a secret or dataplane', DEFAULT_MESH)
    .option('--dry-run', 'ask the server whether it would delete (?dryRun=true)')
    .action(async (typeName: string, name: string, opts: { mesh: string; dryRun?: boolean }, cmd: Command) => {
      const type = resourceTypeByName(typeName);
      const label = type.meshScoped ? `${type.kind} ${opts.mesh}/${name}` : `${type.kind} ${name}`;
      try {
        await clientOf(cmd).call('DELETE', itemPath(type, name, opts.mesh), {
          query: { dryRun: opts.dryRun ? 'true' : undefined },
        });
      } catch (err) {
        throw notFoundAsLine(err, label);
      }
      io.stdout.write(`${label} deleted${opts.dryRun ? ' (dry run)' : ''}\n`);
    });

  // ---- inspect --------------------------------------------------------------------------------------------------
  program
    .command('inspect')
    .description('dataplanes with their certificate insights, or meshes with their mTLS insights')
    .argument('<type>', 'dataplanes | meshes')
    .argument('[name]', 'one dataplane: its certificate, acknowledged bundle, trusted backends and last contact')
    .option('-m, --mesh <mesh>', 'only this mesh (default: every mesh; one dataplane: default)')
    .addOption(outputOption())
    .action(
      async (
        typeName: string,
        name: string | undefined,
        opts: { mesh?: string; output: OutputFormat },
        cmd: Command,
      ) => {
        const type = resourceTypeByName(typeName);
        const client = clientOf(cmd);
        const now = io.now();
        if (type.kind === 'Dataplane' && name !== undefined) {
          const mesh = opts.mesh ?? DEFAULT_MESH;
          try {
            return await inspectDataplane(io, client, mesh, name, opts.output);
          } catch (err) {
            throw notFoundAsLine(err, `Dataplane ${mesh}/${name}`);
          }
        }
        if (type.kind === 'Dataplane') {
          const path = opts.mesh
            ? `/meshes/${encodeURIComponent(opts.mesh)}/dataplanes/_overview`
            : '/dataplanes+insights';
          const items = await client.listAll<DataplaneOverview>(path);
          output(io, opts.output, { total: items.length, items, next: null }, () =>
            items.length === 0 ? 'no dataplanes found\n' : dataplaneInsightTable(items, now),
          );
          return;
        }
        if (type.kind === 'Mesh') {
          type Insight = {
            name: string;
            dataplanes: { total: number; online: number; offline: number };
            mTLS: {
              issuedBackends: Record<string, { total: number }>;
              supportedBackends: Record<string, { total: number }>;
            };
          };
          const items = opts.mesh
            ? [await client.getJson<Insight>(`/mesh-insights/${encodeURIComponent(opts.mesh)}`)]
            : await client.listAll<Insight>('/mesh-insights');
          const counts = (m: Record<string, { total: number }>) =>
            Object.entries(m)
              .map(([b, s]) => `${b}:${s.total}`)
              .join(',') || '-';
          output(io, opts.output, { total: items.length, items, next: null }, () =>
            renderTable(
              ['NAME', 'DATAPLANES', 'ONLINE', 'ISSUED BY', 'TRUSTING'],
              items.map((i) => [
                i.name,
                String(i.dataplanes.total),
                String(i.dataplanes.online),
                counts(i.mTLS.issuedBackends),
                counts(i.mTLS.supportedBackends),
              ]),
            ),
          );
          return;
        }
        throw new UsageError('inspect supports dataplanes and meshes');
      },
    );

  // ---- generate dataplane-token ---------------------------------------------------------------------------------
  const generate = program.command('generate').description('generate tokens');
  generate
    .command('dataplane-token')
    .description('a dataplane token (JWT) for meshcp-dp')
    .requiredOption('--name <name>', 'dataplane name')
    .option('-m, --mesh <mesh>', 'mesh', DEFAULT_MESH)
    .option('--valid-for <duration>', 'lifetime, e.g. 24h or 30d (default: 10y, as Kuma)')
    .option('--tag <key=value>', 'restrict the token to a tag value (repeatable)', (v: string, all: string[] = []) => [
      ...all,
      v,
    ])
    .option(
      '--no-service-tag',
      "do not bind the token to the Dataplane's current kuma.io/service values (Kuma's default: any service)",
    )
    .action(
      async (
        opts: { name: string; mesh: string; validFor?: string; tag?: string[]; serviceTag: boolean },
        cmd: Command,
      ) => {
        if (opts.validFor !== undefined) duration('--valid-for', opts.validFor);
        const client = clientOf(cmd);
        let tags = parseTagFlags(opts.tag ?? []);
        if (opts.serviceTag) {
          const bound = await withDataplaneServiceTag(client, opts.mesh, opts.name, tags);
          tags = bound.tags;
          if (bound.note) io.stderr.write(bound.note + '\n');
        }
        const response = await client.call('POST', '/tokens/dataplane', {
          body: {
            name: opts.name,
            mesh: opts.mesh,
            ...(Object.keys(tags).length > 0 ? { tags } : {}),
            ...(opts.validFor ? { validFor: opts.validFor } : {}),
          },
        });
        io.stdout.write(response.text.trim() + '\n');
      },
    );

  // ---- rotation status ------------------------------------------------------------------------------------------
  const rotation = program.command('rotation').description('CA rotation');
  rotation
    .command('status')
    .description('where the CA rotation of a mesh stands: progress, next step, the dataplanes it waits for')
    .option('-m, --mesh <mesh>', 'mesh', DEFAULT_MESH)
    .option('-w, --watch', 'redraw until the next step is ready (Ctrl-C to stop)')
    .option('--interval <duration>', 'refresh interval with --watch', '2s')
    .addOption(outputOption())
    .action(async (opts: { mesh: string; watch?: boolean; interval: string; output: OutputFormat }, cmd: Command) => {
      const interval = duration('--interval', opts.interval);
      const client = clientOf(cmd);
      const path = `/meshes/${encodeURIComponent(opts.mesh)}/ca-rotation`;
      let last = '';
      for (;;) {
        const status = await client.getJson<RotationStatus>(path);
        const text =
          opts.output === 'table'
            ? renderRotationStatus(status, io.now())
            : opts.output === 'json'
              ? toJson(status)
              : toYaml(status);
        if (!opts.watch) {
          io.stdout.write(text);
          return;
        }
        const done = status.nextStep.ready;
        if (io.stdout.isTTY) {
          io.stdout.write(
            CLEAR_SCREEN + text + (done ? '' : `\n(refreshing every ${opts.interval}, Ctrl-C to stop)\n`),
          );
        } else if (text !== last) {
          io.stdout.write((last ? '\n' : '') + text);
        }
        last = text;
        if (done) return;
        await io.sleep(interval);
      }
    });

  // ---- rotate ---------------------------------------------------------------------------------------------------
  program
    .command('rotate')
    .description(
      'finish a CA rotation to an already added backend: enable it when every dataplane trusts it, then remove the old backends once no dataplane holds their certificates',
    )
    .option('-m, --mesh <mesh>', 'mesh', DEFAULT_MESH)
    .requiredOption('--to <backend>', 'the backend to rotate to (added to the mesh already: step 1)')
    .option('--timeout <duration>', 'give up after this long (safe: re-run to continue)', '5m')
    .option('--interval <duration>', 'how often to read the rotation status', '2s')
    .option(
      '--prune-secrets',
      "then list and delete the secrets no backend of the mesh uses any more (a removed builtin CA's key among them)",
    )
    .action(
      async (
        opts: { mesh: string; to: string; timeout: string; interval: string; pruneSecrets?: boolean },
        cmd: Command,
      ) => {
        const timeoutMs = duration('--timeout', opts.timeout);
        const intervalMs = duration('--interval', opts.interval);
        const client = clientOf(cmd);
        const meshPath = `/meshes/${encodeURIComponent(opts.mesh)}`;
        const before = await client.getJson<MeshResource>(meshPath);
        const line = new StatusLine(io.stdout);
        const result = await runRotate(
          {
            getMesh: () => client.getJson<MeshResource>(meshPath),
            getStatus: () => client.getJson<RotationStatus>(`${meshPath}/ca-rotation`),
            putMesh: async (mesh) => void (await client.put(meshPath, mesh)),
            sleep: io.sleep,
            now: io.now,
          },
          { log: (l) => line.log(l), progress: (l) => line.update(l) },
          { mesh: opts.mesh, target: opts.to, timeoutMs, intervalMs },
        );
        line.clear();
        if (!result.ok) throw new CliError([result.message, ...(result.lines ?? [])]);
        io.stdout.write(`✓ ${result.message}\n`);
        for (const l of await handleLeftBehindSecrets(client, opts.mesh, before, opts.pruneSecrets === true))
          io.stdout.write(l + '\n');
      },
    );

  // ---- check ----------------------------------------------------------------------------------------------------
  program
    .command('check')
    .description(
      'exit 1 when a CA of any mesh expires within the window or a CA rotation is half-done (exit 2: could not check)',
    )
    .option('--warn-before <duration>', 'warn when a CA expires within this window', '30d')
    .option('-m, --mesh <mesh>', 'check only this mesh')
    // Its own usage errors exit 2 (could not check), never 1 (which means: a problem was found).
    .exitOverride((err) => {
      throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
    })
    .action(async (opts: { warnBefore: string; mesh?: string }, cmd: Command) => {
      try {
        const windowMs = duration('--warn-before', opts.warnBefore);
        const client = clientOf(cmd);
        const names = opts.mesh ? [opts.mesh] : (await client.listAll<{ name: string }>('/meshes')).map((m) => m.name);
        const now = io.now();
        const findings = [];
        for (const name of names) {
          const status = await client.getJson<RotationStatus>(`/meshes/${encodeURIComponent(name)}/ca-rotation`);
          findings.push(...checkMesh(status, now, windowMs));
        }
        const { text, problems } = renderFindings(findings, names.length);
        io.stdout.write(text);
        if (problems > 0) throw new CliError([], 1);
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError(errorLines(err), 2);
      }
    });

  registerOpsCommands(program, io, clientOf);

  registerMigrateIdentity(program, io, clientOf, duration, (lines) => new CliError(lines));
  return program;
}

function notFoundAsLine(err: unknown, label: string): unknown {
  if (
    err instanceof ApiCallError &&
    err.status === 404 &&
    /resource/.test(String((err.body as { title?: string })?.title))
  ) {
    return new CliError([`${label} not found`]);
  }
  return err;
}

/** Readable lines for anything a command throws. */
function errorLines(err: unknown): string[] {
  if (err instanceof CliError) return err.lines;
  if (err instanceof ApiCallError) return err.lines;
  if (
    err instanceof ConnectionError ||
    err instanceof UsageError ||
    err instanceof ManifestError ||
    err instanceof ConfigFileError
  ) {
    return [err.message];
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return [(err as Error).message];
  return [err instanceof Error ? err.message : String(err)];
}

/** Runs meshctl with `argv` (without node and script); returns the exit code. */
export async function runMeshctl(argv: string[], given: CliIo): Promise<number> {
  const io: CliIo = { ...given, stdout: safeOutput(given.stdout), stderr: safeOutput(given.stderr) };
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const exitCode = err instanceof CliError ? err.exitCode : 1;
    for (const line of errorLines(err)) io.stderr.write(`Error: ${line}\n`);
    if (err instanceof CliError) for (const hint of err.hints) io.stderr.write(`hint: ${hint}\n`);
    return exitCode;
  }
}
