import type { SecretCipher } from './secret-cipher.js';

/*
 * A `provided` CA backend may carry its key (and certificate) inline in the Mesh: `conf.key.inline` (base64 of the PEM)
 * or `conf.key.inlineString`. Mesh rows are JSON text, so that key used to sit in the database and its WAL in
 * plaintext. Every inline data source of a backend's conf is stored sealed instead, with the same AES-256-GCM key
 * as secrets, and unsealed on read: the API still answers Kuma's shapes. The additional authenticated data names
 * the mesh, backend and field, so a sealed key copied onto another mesh or backend does not decrypt.
 */

const SEALED = '$sealed';
const INLINE_KINDS = ['inline', 'inlineString'];
/** Data sources that may hold secrets: a provided backend's cert and key, a vault backend's credentials. */
const SEALED_FIELDS = [
  'cert',
  'key',
  'fromCp.tls.caCert',
  'fromCp.auth.token',
  'fromCp.auth.tls.clientCert',
  'fromCp.auth.tls.clientKey',
];

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const identityOf = (mesh: string, backend: string, field: string) =>
  `Mesh/${mesh}/mtls.backends[${backend}].conf.${field}`;

function getPath(record: Json, path: string): unknown {
  let value: unknown = record;
  for (const key of path.split('.')) value = isObject(value) ? value[key] : undefined;
  return value;
}

/** A copy of `record` with `path` set; the objects along the path are copied, nothing else. */
function setPath(record: Json, path: string, value: Json): Json {
  const [head, ...rest] = path.split('.') as [string, ...string[]];
  if (rest.length === 0) return { ...record, [head]: value };
  return { ...record, [head]: setPath(record[head] as Json, rest.join('.'), value) };
}

/** Applies `transform` to every `cert`/`key` data source of every backend's conf; copies only what it changes. */
function mapDataSources(
  spec: Json,
  transform: (source: Json, identity: string) => Json | undefined,
  mesh: string,
): Json {
  const mtls = spec.mtls;
  if (!isObject(mtls) || !Array.isArray(mtls.backends)) return spec;
  let changed = false;
  const backends = mtls.backends.map((backend: unknown) => {
    if (!isObject(backend) || !isObject(backend.conf)) return backend;
    let conf = backend.conf;
    for (const field of SEALED_FIELDS) {
      const source = getPath(conf, field);
      if (!isObject(source)) continue;
      const replaced = transform(source, identityOf(mesh, String(backend.name ?? ''), field));
      if (replaced === undefined) continue;
      conf = setPath(conf, field, replaced);
      changed = true;
    }
    return conf === backend.conf ? backend : { ...backend, conf };
  });
  return changed ? { ...spec, mtls: { ...mtls, backends } } : spec;
}

/** Whether a data source holds its material inline (what must not be stored in plaintext). */
const isInline = (source: Json) => INLINE_KINDS.some((kind) => typeof source[kind] === 'string');

/** The Mesh spec as stored: inline data sources replaced by `{"$sealed": "<base64 ciphertext of the source>"}`. */
export function sealMeshSpec(spec: Json, mesh: string, cipher: SecretCipher): Json {
  return mapDataSources(
    spec,
    (source, identity) =>
      isInline(source)
        ? { [SEALED]: cipher.encrypt(Buffer.from(JSON.stringify(source)), identity).toString('base64') }
        : undefined,
    mesh,
  );
}

/** The Mesh spec as the API knows it. Rows written before sealing existed (plaintext) are returned as they are. */
export function unsealMeshSpec(spec: Json, mesh: string, cipher: SecretCipher): Json {
  return mapDataSources(
    spec,
    (source, identity) => {
      const sealed = source[SEALED];
      if (typeof sealed !== 'string') return undefined;
      return JSON.parse(cipher.decrypt(Buffer.from(sealed, 'base64'), identity).toString()) as Json;
    },
    mesh,
  );
}

/** Whether a stored Mesh spec still holds an inline data source in plaintext. */
export function hasPlaintextInlineSource(spec: Json): boolean {
  let found = false;
  mapDataSources(
    spec,
    (source) => {
      if (isInline(source)) found = true;
      return undefined;
    },
    '',
  );
  return found;
}
