// A Dockerfile, read and carried out without Docker (no engine here, base images cannot be pulled): each stage is an
// empty directory standing for its WORKDIR; COPY copies exactly what it names (from the build context minus
// .dockerignore, or from an earlier stage's directory); RUN runs there with sh. What only the base image's system
// layer can do (apt-get, users and absolute paths outside the app) is not run: the caller names those steps.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

type Instruction = { op: string; args: string; stage: number };

export interface Stage {
  name?: string;
  dir: string;
  env: Record<string, string>;
}

/** Instructions with continuation lines joined and comments dropped, each tagged with its stage. */
function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    current += (current ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      logical.push(current);
      current = '';
    }
  }
  let stage = -1;
  return logical.map((line) => {
    const [, op, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') stage++;
    return { op: op.toUpperCase(), args, stage };
  });
}

/** A JSON exec form (`["node", "x"]`) or a shell form, as the argv Docker would run. */
function commandOf(args: string): string[] {
  return args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : ['sh', '-c', args];
}

/** Docker's .dockerignore for the patterns this repo uses: globs where `*` stays within one path segment. */
function ignoredBy(patterns: string[]): (path: string) => boolean {
  const regexes = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')}(/.*)?$`,
      ),
  );
  return (path) => regexes.some((r) => r.test(path));
}

/** COPY from the build context: what it names, minus .dockerignore, timestamps kept (as Docker keeps them). */
function copyFromContext(from: string, to: string, context: string, ignored: (p: string) => boolean): void {
  if (!existsSync(from)) throw new Error(`COPY: ${relative(context, from)} does not exist in the build context`);
  if (ignored(relative(context, from)))
    throw new Error(`COPY: ${relative(context, from)} is excluded by .dockerignore`);
  cpSync(from, to, {
    recursive: true,
    preserveTimestamps: true,
    verbatimSymlinks: true,
    filter: (path) => !ignored(relative(context, path)),
  });
  keepDirectoryTimes(from, to);
}

/** BuildKit sets a copied directory's times after its contents (cpSync sets them before, so they end up "now"). */
function keepDirectoryTimes(from: string, to: string): void {
  const stat = lstatSync(from);
  if (!stat.isDirectory() || !existsSync(to)) return;
  for (const entry of readdirSync(from)) keepDirectoryTimes(join(from, entry), join(to, entry));
  utimesSync(to, stat.atime, stat.mtime);
}

/** COPY --from an earlier stage: hard links (the same bytes, without copying hundreds of megabytes). */
function copyFromStage(from: string, to: string): void {
  if (!existsSync(from)) throw new Error(`COPY --from: ${from} does not exist in that stage`);
  execFileSync('cp', ['-al', from, to]);
}

interface BuildOptions {
  context: string;
  /** Where the stages' directories go (empty). */
  root: string;
  /** RUN steps not run here, exactly as written, each with the reason. Any other RUN step runs. */
  systemSteps: Record<string, string>;
  /** Replaces a RUN step by what produces the same here (exactly as written -> the replacement). */
  replace?: Record<string, (stage: Stage) => void>;
  env?: Record<string, string>;
  /** Called for each step, for the test's log. */
  onStep?: (stage: number, instruction: Instruction) => void;
}

/** Carries out every instruction; returns the final stage and the image's CMD. */
export function buildDockerfile(options: BuildOptions): { stages: Stage[]; cmd: string[]; user?: string } {
  const instructions = parseDockerfile(readFileSync(join(options.context, 'Dockerfile'), 'utf8'));
  const dockerignore = join(options.context, '.dockerignore');
  const ignored = ignoredBy(
    existsSync(dockerignore)
      ? readFileSync(dockerignore, 'utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('#'))
      : [],
  );
  const stages: Stage[] = [];
  let cmd: string[] = [];
  let user: string | undefined;
  for (const instruction of instructions) {
    options.onStep?.(instruction.stage, instruction);
    const stage = stages[instruction.stage];
    switch (instruction.op) {
      case 'FROM': {
        const name = /\sAS\s+(\S+)$/i.exec(instruction.args)?.[1];
        const dir = join(options.root, `stage-${instruction.stage}${name ? `-${name}` : ''}`);
        mkdirSync(dir, { recursive: true });
        stages.push({ name, dir, env: {} });
        cmd = [];
        break;
      }
      case 'WORKDIR':
        if (instruction.args !== '/app')
          throw new Error(`WORKDIR ${instruction.args}: this runner stands each stage's /app for its directory`);
        break;
      case 'ENV': {
        const [, key, value] = /^(\S+?)[= ](.*)$/.exec(instruction.args)!;
        stage.env[key] = value;
        break;
      }
      case 'COPY': {
        const words = instruction.args.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        const paths = words.filter((w) => !w.startsWith('--'));
        const dest = paths.pop()!;
        const target = join(stage.dir, dest.replace(/^\.\/?/, '').replace(/^\/app\/?/, ''));
        for (const source of paths) {
          const fromDir = from === undefined ? options.context : stages.find((s) => s.name === from)?.dir;
          if (!fromDir) throw new Error(`COPY --from=${from}: no such stage`);
          const path = join(fromDir, from === undefined ? source : source.replace(/^\/app\/?/, ''));
          const into = dest.endsWith('/') || paths.length > 1 ? join(target, basename(source)) : target;
          mkdirSync(join(into, '..'), { recursive: true });
          if (from === undefined) copyFromContext(path, into, options.context, ignored);
          else copyFromStage(path, into);
        }
        break;
      }
      case 'RUN': {
        if (options.systemSteps[instruction.args] !== undefined) break;
        const replacement = options.replace?.[instruction.args];
        if (replacement) {
          replacement(stage);
          break;
        }
        const [file, ...args] = commandOf(instruction.args);
        execFileSync(file, args, {
          cwd: stage.dir,
          env: { ...process.env, ...options.env, ...stage.env },
          stdio: 'pipe',
        });
        break;
      }
      case 'CMD':
        cmd = commandOf(instruction.args);
        break;
      case 'USER':
        user = instruction.args;
        break;
      case 'EXPOSE':
        break;
      default:
        throw new Error(`Dockerfile instruction ${instruction.op} is not carried out by this runner`);
    }
  }
  return { stages, cmd, user };
}
