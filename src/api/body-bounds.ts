import yaml from 'js-yaml';

/**
 * Bounds on what a request body may make the parsers do. No resource comes near them (a Dataplane at its inbound cap
 * is ~2,000 values); they exist so that one body, however hostile, costs a bounded amount of CPU and memory.
 */
export const BODY_BOUNDS = {
  /** Object/array nesting, JSON or YAML (the recursive checks downstream must not overflow the stack). */
  depth: 100,
  /** Values (objects, arrays, scalars) in one parsed body: bounds schema validation and every walk over the body. */
  values: 10_000,
  /** YAML indicator characters (see below) before parsing: bounds the parser's work on dense input. */
  yamlIndicators: 20_000,
} as const;

/**
 * Characters that open or separate YAML structure (entries, flow collections, anchors, aliases, tags, escapes). The
 * parser's work grows with them, not with plain text: a 1 MiB base64 secret has none, a 1 MiB run of `k: v` lines has
 * 130,000. Counting them is one linear pass that runs before the parser.
 */
const YAML_INDICATORS = new Uint8Array(128);
for (const c of ':-,?[{&*!\\<') YAML_INDICATORS[c.charCodeAt(0)] = 1;

/**
 * Parses one YAML document from a request body within bounded work. js-yaml is linear on every hostile shape we
 * generate (it stops at the first error, refuses anchors re-declared on one node, caps nesting with `maxDepth`),
 * and aliases come back as shared references, not copies, so `valueExceedsBounds` sees an alias bomb's real size
 * without it being built. The `yaml` package's composer was super-linear here
 * (thousands of anchors on one node, thousands of errors on one line) and aborted the process on deep flow nesting.
 * Throws an Error whose message says what is wrong.
 */
export function parseBoundedYaml(text: string): unknown {
  let indicators = 0;
  for (let i = 0; i < text.length; i++) {
    if (YAML_INDICATORS[text.charCodeAt(i)] === 1 && ++indicators > BODY_BOUNDS.yamlIndicators) {
      throw new Error(`more than ${BODY_BOUNDS.yamlIndicators} structural characters; send large bodies as JSON`);
    }
  }
  // YAML 1.2's core schema, as before: no timestamps, binary or merge keys (`<<` is a plain key).
  const options = { schema: yaml.CORE_SCHEMA, maxDepth: BODY_BOUNDS.depth } as yaml.LoadOptions;
  return yaml.load(text, options);
}

/**
 * Checks JSON text against the depth and value bounds in one pass before `JSON.parse`, which spends ~100 ms on half a
 * million nested brackets or a 60,000-key object. Brackets and commas inside strings do not count.
 */
export function jsonExceedsBounds(text: string): string | undefined {
  let depth = 0;
  let separators = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x2c) {
      if (++separators >= BODY_BOUNDS.values) return `more than ${BODY_BOUNDS.values} values`;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > BODY_BOUNDS.depth) return `nested deeper than ${BODY_BOUNDS.depth} levels`;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

/** Walks a parsed body once, iteratively (the walk itself cannot overflow), against the depth and value bounds. */
export function valueExceedsBounds(value: unknown): string | undefined {
  const pending: [unknown, number][] = [[value, 1]];
  let values = 1;
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > BODY_BOUNDS.depth) return `nested deeper than ${BODY_BOUNDS.depth} levels`;
    const children = Object.values(current);
    values += children.length;
    if (values > BODY_BOUNDS.values) return `more than ${BODY_BOUNDS.values} values`;
    for (const child of children) pending.push([child, depth + 1]);
  }
  return undefined;
}
