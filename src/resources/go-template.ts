/**
 * The part of Go's `text/template` that MeshIdentity SPIFFE ID templates use (`{{ .Mesh }}`, `{{ label "k" }}`,
 * pipelines), parsed with Go's error wording so that admission answers as Kuma's validator does
 * (`template: :1: function "invalid" not defined`), and executed over plain string data.
 *
 * Parsing knows every function Go defines plus the ones a caller adds, as Go does; executing supports fields, string
 * literals and the caller's functions. Control actions (`if`, `range`, `with`, ...) are refused at parse time: no SPIFFE
 * ID template needs them, and executing only part of Go would render IDs that Kuma renders differently.
 */

const GO_BUILTINS = [
  'and',
  'call',
  'html',
  'index',
  'slice',
  'js',
  'len',
  'not',
  'or',
  'print',
  'printf',
  'println',
  'urlquery',
  'eq',
  'ge',
  'gt',
  'le',
  'lt',
  'ne',
];
const CONTROL_WORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
]);

type Operand =
  | { kind: 'field'; path: string[]; text: string }
  | { kind: 'dot' }
  | { kind: 'string'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'bool'; value: boolean }
  | { kind: 'nil' }
  | { kind: 'function'; name: string };

/** One command of a pipeline: its operands, the first one being what it runs. */
type Command = Operand[];
type Node = { kind: 'text'; text: string } | { kind: 'action'; pipeline: Command[]; line: number; text: string };

type ParseResult = { ok: true; nodes: Node[] } | { ok: false; error: string };

class TemplateError extends Error {}

const lineOf = (source: string, at: number) => source.slice(0, at).split('\n').length;

/** Parses a template; `functions` are the names the caller defines besides Go's builtins (Kuma: `label`). */
export function parseTemplate(source: string, functions: readonly string[] = []): ParseResult {
  const known = new Set([...GO_BUILTINS, ...functions]);
  const nodes: Node[] = [];
  let at = 0;
  try {
    while (at < source.length) {
      const open = source.indexOf('{{', at);
      if (open === -1) {
        nodes.push({ kind: 'text', text: source.slice(at) });
        break;
      }
      let text = source.slice(at, open);
      let start = open + 2;
      if (/^- /.test(source.slice(start, start + 2)) || source.slice(start, start + 2) === '-\t') {
        text = text.replace(/\s+$/, '');
        start += 1;
      }
      if (text !== '') nodes.push({ kind: 'text', text });
      const close = source.indexOf('}}', start);
      const line = lineOf(source, open);
      if (close === -1) throw new TemplateError(`template: :${line}: unclosed action`);
      let inner = source.slice(start, close);
      let next = close + 2;
      if (/ -$|\t-$/.test(inner)) {
        inner = inner.slice(0, -1);
        while (next < source.length && /\s/.test(source[next]!)) next++;
      }
      const trimmed = inner.trim();
      if (trimmed.startsWith('/*')) {
        if (!trimmed.endsWith('*/')) throw new TemplateError(`template: :${line}: unclosed comment`);
      } else {
        nodes.push({ kind: 'action', pipeline: parsePipeline(inner, line, known), line, text: trimmed });
      }
      at = next;
    }
  } catch (err) {
    if (err instanceof TemplateError) return { ok: false, error: err.message };
    throw err;
  }
  return { ok: true, nodes };
}

/** Splits an action's text into tokens (strings kept whole). */
function tokenize(text: string, line: number): string[] {
  const tokens: string[] = [];
  let i = 0;
  const fail = (msg: string) => {
    throw new TemplateError(`template: :${line}: ${msg}`);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '|' || c === '(' || c === ')') {
      tokens.push(c);
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) fail('unterminated quoted string');
      tokens.push(text.slice(i, j + 1));
      i = j + 1;
    } else if (c === '`') {
      const j = text.indexOf('`', i + 1);
      if (j === -1) fail('unterminated raw quoted string');
      tokens.push(text.slice(i, j + 1));
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s|()"`]/.test(text[j]!)) j++;
      tokens.push(text.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

function parsePipeline(text: string, line: number, known: ReadonlySet<string>): Command[] {
  const fail = (msg: string): never => {
    throw new TemplateError(`template: :${line}: ${msg}`);
  };
  const tokens = tokenize(text, line);
  if (tokens.length === 0) fail('missing value for command');
  if (CONTROL_WORDS.has(tokens[0]!)) fail(`{{${tokens[0]}}} is not supported in a SPIFFE ID template`);
  const pipeline: Command[] = [[]];
  for (const token of tokens) {
    if (token === '|') {
      if (pipeline[pipeline.length - 1]!.length === 0) fail('missing value for command');
      pipeline.push([]);
      continue;
    }
    if (token === '(' || token === ')') fail('parenthesized pipelines are not supported in a SPIFFE ID template');
    pipeline[pipeline.length - 1]!.push(operand(token, fail, known));
  }
  if (pipeline[pipeline.length - 1]!.length === 0) fail('missing value for command');
  pipeline.forEach((command, i) => {
    const first = command[0]!;
    if (i > 0 && ['dot', 'string', 'number', 'bool', 'nil'].includes(first.kind))
      fail(`non executable command in pipeline stage ${i + 1}`);
    if (first.kind === 'nil') fail('nil is not a command');
  });
  return pipeline;
}

function operand(token: string, fail: (msg: string) => never, known: ReadonlySet<string>): Operand {
  if (token === '.') return { kind: 'dot' };
  if (token.startsWith('.')) {
    const path = token.slice(1).split('.');
    if (path.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) fail(`bad character ${JSON.stringify(token)}`);
    return { kind: 'field', path, text: token };
  }
  if (token.startsWith('"')) {
    try {
      return { kind: 'string', value: JSON.parse(token) as string };
    } catch {
      return fail(`bad quoted string: ${token}`);
    }
  }
  if (token.startsWith('`')) return { kind: 'string', value: token.slice(1, -1) };
  if (token === 'true' || token === 'false') return { kind: 'bool', value: token === 'true' };
  if (token === 'nil') return { kind: 'nil' };
  if (/^[-+]?[0-9.]/.test(token)) {
    if (!/^[-+]?(0[xob])?[0-9a-fA-F_.]+([eEpP][-+]?[0-9]+)?i?$/.test(token))
      fail(`bad number syntax: ${JSON.stringify(token)}`);
    return { kind: 'number', text: token };
  }
  if (token.startsWith('$')) fail(`undefined variable ${JSON.stringify(token)}`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(token)) fail(`unexpected ${JSON.stringify(token)} in command`);
  if (!known.has(token)) fail(`function ${JSON.stringify(token)} not defined`);
  return { kind: 'function', name: token };
}

type RenderResult = { ok: true; value: string } | { ok: false; error: string };

/** A function a template may call: its string arguments in, a string or an error out. */
export type TemplateFunction = (...args: string[]) => { ok: true; value: string } | { ok: false; error: string };

/**
 * Executes a parsed template over string fields. Errors read like Go's execution errors
 * (`template: :1:3: executing "" at <label "kuma.io/workload">: error calling label: label kuma.io/workload not found`).
 */
export function renderTemplate(
  source: string,
  data: Readonly<Record<string, string>>,
  functions: Readonly<Record<string, TemplateFunction>> = {},
): RenderResult {
  const parsed = parseTemplate(source, Object.keys(functions));
  if (!parsed.ok) return parsed;
  let out = '';
  for (const node of parsed.nodes) {
    if (node.kind === 'text') {
      out += node.text;
      continue;
    }
    const where = `template: :${node.line}: executing "" at <${node.text}>`;
    let previous: string | undefined;
    for (const command of node.pipeline) {
      const [head, ...rest] = command;
      const args: string[] = [];
      for (const arg of rest) {
        const value = literal(arg, data);
        if (!value.ok) return { ok: false, error: `${where}: ${value.error}` };
        args.push(value.value);
      }
      if (previous !== undefined) args.push(previous);
      if (head!.kind !== 'function') {
        if (args.length > 0) return { ok: false, error: `${where}: ${describe(head!)} is not a function` };
        const value = literal(head!, data);
        if (!value.ok) return { ok: false, error: `${where}: ${value.error}` };
        previous = value.value;
        continue;
      }
      const fn = functions[head!.name];
      if (!fn)
        return {
          ok: false,
          error: `${where}: function ${JSON.stringify(head!.name)} is not supported in a SPIFFE ID template`,
        };
      const result = fn(...args);
      if (!result.ok) return { ok: false, error: `${where}: error calling ${head!.name}: ${result.error}` };
      previous = result.value;
    }
    out += previous ?? '';
  }
  return { ok: true, value: out };
}

function describe(op: Operand): string {
  return op.kind === 'field' ? op.text : op.kind;
}

function literal(op: Operand, data: Readonly<Record<string, string>>): RenderResult {
  switch (op.kind) {
    case 'string':
      return { ok: true, value: op.value };
    case 'field': {
      const value = op.path.length === 1 ? data[op.path[0]!] : undefined;
      if (value === undefined || !Object.hasOwn(data, op.path[0]!))
        return { ok: false, error: `can't evaluate field ${op.path.join('.')}` };
      return { ok: true, value };
    }
    case 'number':
      return { ok: true, value: op.text };
    case 'bool':
      return { ok: true, value: String(op.value) };
    default:
      return { ok: false, error: `${describe(op)} is not supported in a SPIFFE ID template` };
  }
}
