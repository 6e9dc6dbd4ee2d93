/** Manifests for `meshctl apply`: YAML or JSON, several `---` documents, each one resource. */
import { parseAllDocuments } from 'yaml';
import { itemPath, resourceTypeByKind, RESOURCE_TYPES, type ResourceType } from './resources.js';

export class ManifestError extends Error {}

export interface ApplyItem {
  type: ResourceType;
  name: string;
  /** '' for global resources. */
  mesh: string;
  path: string;
  body: Record<string, unknown>;
  /** `Mesh default`, `Secret default/ca-2-cert`: how output names it. */
  label: string;
}

export const DEFAULT_MESH = 'default';

/** All documents of a manifest stream; JSON arrays and `items:` lists (meshctl get -o yaml) are flattened. */
export function parseManifests(text: string, source: string): Record<string, unknown>[] {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const out: Record<string, unknown>[] = [];
  const add = (value: unknown, where: string) => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => add(v, `${where}[${i}]`));
      return;
    }
    if (typeof value !== 'object') throw new ManifestError(`${where}: expected a resource object, got ${typeof value}`);
    const record = value as Record<string, unknown>;
    if (record.type === undefined && Array.isArray(record.items)) {
      add(record.items, `${where}.items`);
      return;
    }
    out.push(record);
  };
  if (!Array.isArray(docs)) throw new ManifestError(`${source}: could not read the manifest`);
  docs.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      throw new ManifestError(
        `${source}: document ${i + 1} is not valid YAML or JSON: ${doc.errors[0].message.split('\n')[0]}`,
      );
    }
    add(doc.toJS(), docs.length > 1 ? `${source} document ${i + 1}` : source);
  });
  return out;
}

/** Where each document goes. Mesh-scoped resources without `mesh` go to the default mesh, as kumactl. */
export function planApply(documents: Record<string, unknown>[]): ApplyItem[] {
  return documents.map((doc, i) => {
    const where = `document ${i + 1}`;
    const kind = doc.type;
    if (typeof kind !== 'string' || kind === '')
      throw new ManifestError(`${where}: missing "type" (one of ${RESOURCE_TYPES.map((t) => t.kind).join(', ')})`);
    const type = resourceTypeByKind(kind);
    if (!type)
      throw new ManifestError(
        `${where}: unsupported type "${kind}": meshctl applies ${RESOURCE_TYPES.map((t) => t.kind).join(', ')}`,
      );
    const name = doc.name;
    if (typeof name !== 'string' || name === '') throw new ManifestError(`${where}: ${kind} without a "name"`);
    let mesh = '';
    const body: Record<string, unknown> = { ...doc };
    // Server-set fields: the API ignores them, drop them so `get -o yaml | apply -f -` reads clean.
    delete body.creationTime;
    delete body.modificationTime;
    if (type.meshScoped) {
      if (doc.mesh !== undefined && (typeof doc.mesh !== 'string' || doc.mesh === ''))
        throw new ManifestError(`${where}: "mesh" must be a mesh name`);
      mesh = (doc.mesh as string | undefined) ?? DEFAULT_MESH;
      body.mesh = mesh;
    }
    const label = type.meshScoped ? `${kind} ${mesh}/${name}` : `${kind} ${name}`;
    return { type, name, mesh, path: itemPath(type, name, mesh), body, label };
  });
}
