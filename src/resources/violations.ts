import type { z } from 'zod';

/**
 * One validation failure, as Kuma reports it: a field path in Kuma's syntax
 * (`mtls.backends[0].conf.cert`, `networking.inbound[0].tags["kuma.io/service"]`)
 * and a human message. A violation at the root has field `""`.
 */
export interface Violation {
  field: string;
  message: string;
}

/** Path segments: a string is a field name, a number an array index, `{ key }` a map key. */
export type PathSegment = string | number | { key: string };

/** Formats a map key the way Kuma's PathBuilder does (Go's %q, which JSON.stringify matches for printable text). */
export function mapKey(key: string): string {
  return `[${JSON.stringify(key)}]`;
}

/**
 * Joins a root and a relative field the way Kuma re-roots nested errors:
 * `join("a", "b")` is `a.b`, `join("a", "[0].b")` is `a[0].b`, `join("a", "")` is `a`.
 */
export function joinField(root: string, field: string): string {
  if (root === '') return field;
  if (field === '') return root;
  if (field.startsWith('[')) return root + field;
  return `${root}.${field}`;
}

/** Builds a field path from segments: `['mtls', 'backends', 0, 'name']` is `mtls.backends[0].name`. */
export function fieldPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string') out = joinField(out, segment);
    else out += mapKey(segment.key);
  }
  return out;
}

/** Prefixes every violation's field with `root`. */
export function reroot(violations: readonly Violation[], root: string): Violation[] {
  return violations.map((v) => ({ field: joinField(root, v.field), message: v.message }));
}

/**
 * Collects violations. `under(prefix)` returns a view that adds below a prefix and shares the same list,
 * so nested validators can be written with relative paths:
 *
 *   const list = new ViolationList();
 *   const backend = list.under('mtls').under('backends[0]');
 *   backend.add('name', 'cannot be empty');   // field "mtls.backends[0].name"
 */
export class ViolationList {
  private readonly items: Violation[];
  private readonly prefix: string;

  constructor(prefix = '', items: Violation[] = []) {
    this.prefix = prefix;
    this.items = items;
  }

  /** Adds a violation at `field`, relative to this list's prefix (`''` means the prefix itself). */
  add(field: string, message: string): this {
    this.items.push({ field: joinField(this.prefix, field), message });
    return this;
  }

  /** Adds violations whose fields are relative to `field` (itself relative to this list's prefix). */
  addAll(violations: readonly Violation[], field = ''): this {
    const root = joinField(this.prefix, field);
    for (const v of violations) this.items.push({ field: joinField(root, v.field), message: v.message });
    return this;
  }

  /** A view of the same list under a nested prefix. */
  under(field: string): ViolationList {
    return new ViolationList(joinField(this.prefix, field), this.items);
  }

  /** A view under `prefix[index]`. */
  index(i: number): ViolationList {
    return new ViolationList(`${this.prefix}[${i}]`, this.items);
  }

  /** A view under `prefix["key"]`. */
  key(k: string): ViolationList {
    return new ViolationList(`${this.prefix}${mapKey(k)}`, this.items);
  }

  get length(): number {
    return this.items.length;
  }

  isEmpty(): boolean {
    return this.items.length === 0;
  }

  /** A copy of everything collected so far (all views included). */
  toArray(): Violation[] {
    return this.items.slice();
  }
}

/**
 * Object keys under which the keys are map keys, not field names, so they print as `tags["kuma.io/service"]`.
 * zod issue paths do not say whether a segment is a record key or a property; these are the records in our schemas.
 */
const RECORD_FIELDS = new Set(['tags', 'labels']);

/** Converts a zod issue path to a Kuma-style field: `['networking','inbound',0,'tags','kuma.io/service']` is `networking.inbound[0].tags["kuma.io/service"]`. */
export function zodPathToField(path: readonly PropertyKey[]): string {
  const segments: PathSegment[] = [];
  let previous: PropertyKey | undefined;
  for (const raw of path) {
    if (typeof raw === 'number') segments.push(raw);
    else {
      const name = String(raw);
      if (typeof previous === 'string' && RECORD_FIELDS.has(previous)) segments.push({ key: name });
      else segments.push(name);
    }
    previous = raw;
  }
  return fieldPath(segments);
}

/** Maps a zod error to violations: one per issue, and one per key for unknown keys (`unknown field "foo"`). */
export function fromZodError(err: z.ZodError): Violation[] {
  const out: Violation[] = [];
  for (const issue of err.issues) {
    const base = zodPathToField(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ field: joinField(base, key), message: `unknown field ${JSON.stringify(key)}` });
      continue;
    }
    out.push({ field: base, message: issue.message });
  }
  return out;
}

/**
 * A one-line description of shape violations, for the `detail` of a 400 `Bad Request`
 * (Kuma writes `invalid Mesh object: "<json error>"`).
 */
export function describeShapeError(kind: string, violations: readonly Violation[]): string {
  // A decoder error stops Kuma at the first one, and its text is the whole detail.
  const decoder = violations.find((v) => v.message.startsWith('json: '));
  const text = decoder
    ? decoder.message
    : violations.map((v) => (v.field === '' ? v.message : `${v.field}: ${v.message}`)).join('; ');
  return `invalid ${kind} object: ${JSON.stringify(text)}`;
}

/**
 * Reads `null` as Kuma's decoders do: an object member that is `null` is unset (dropped), so
 * `{"enabledBackend": null}` and YAML's empty `conf:` mean the same as leaving the field out; but a `null` map
 * value (`tags: {version: null}`) is the empty string, which the validators then refuse (`tag value must be
 * non-empty`) instead of the tag silently vanishing. A `null` array element is kept, and the schema refuses it.
 */
export function stripNulls(value: unknown, inMap = false): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === null ? null : stripNulls(v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === null && !inMap) continue;
      // defineProperty: a `__proto__` key stays an own (unknown) field that the schema refuses, not a prototype.
      const next = v === null ? '' : stripNulls(v, !inMap && RECORD_FIELDS.has(k));
      Object.defineProperty(out, k, { value: next, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

export type ShapeResult<T> = { ok: true; value: T } | { ok: false; violations: Violation[] };

/**
 * Stage 1 (shape): parses a request body with a resource schema after dropping nulls.
 * On failure the caller answers 400 `Bad Request` (see `describeShapeError` for the detail).
 */
export function parseShape<S extends z.ZodType>(schema: S, input: unknown): ShapeResult<z.output<S>> {
  const cleaned = stripNulls(input);
  const result = schema.safeParse(cleaned);
  if (result.success) return { ok: true, value: result.data as z.output<S> };
  return { ok: false, violations: withDecoderWording(fromZodError(result.error), result.error, cleaned) };
}

const META_FIELDS = new Set(['type', 'mesh', 'name', 'labels', 'creationTime', 'modificationTime']);
const GO_TYPES: Readonly<Record<string, string>> = {
  string: 'string',
  number: 'uint32',
  int: 'uint32',
  boolean: 'bool',
  array: 'slice',
  object: 'object',
  record: 'map[string]string',
};

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'object' ? 'object' : typeof value;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let at = root;
  for (const key of path)
    at = at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined;
  return at;
}

/**
 * A wrongly typed field gets the answer Kuma's JSON decoder gives (`json: cannot unmarshal number into Go struct
 * field ResourceMeta.name of type string`), not the schema library's wording; the field path stays Kuma-style.
 */
function withDecoderWording(violations: Violation[], err: z.ZodError, input: unknown): Violation[] {
  const issues = err.issues.filter((i) => i.code !== 'unrecognized_keys');
  let next = 0;
  return violations.map((v) => {
    if (v.message.startsWith('unknown field ')) return v;
    const issue = issues[next++];
    if (issue === undefined || issue.code !== 'invalid_type') return v;
    const value = valueAt(input, issue.path);
    if (value === undefined) return v;
    const goType = GO_TYPES[String(issue.expected)] ?? String(issue.expected);
    const top = String(issue.path[0] ?? '');
    const target = issue.path.length === 1 && META_FIELDS.has(top) ? `Go struct field ResourceMeta.${top}` : 'Go value';
    return { field: v.field, message: `json: cannot unmarshal ${jsonKind(value)} into ${target} of type ${goType}` };
  });
}
