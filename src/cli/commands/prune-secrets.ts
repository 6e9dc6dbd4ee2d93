/** After `meshctl rotate` removed backends: the secrets only they used (a builtin CA's key among them). */
import { backendSecretNames } from '../../resources/backend-secrets.js';
import type { CaBackend } from '../../resources/mesh.js';
import type { ApiClient } from '../../client/http.js';
import type { MeshResource } from '../types.js';

const usedBy = (mesh: string, backends: CaBackend[]) => new Set(backends.flatMap((b) => backendSecretNames(mesh, b)));

/** Secrets that backends of `before` used and no backend of `after` uses, in name order. */
export function secretsLeftBehind(mesh: string, before: MeshResource, after: MeshResource): string[] {
  const kept = usedBy(mesh, (after.mtls?.backends ?? []) as CaBackend[]);
  const gone = [...usedBy(mesh, (before.mtls?.backends ?? []) as CaBackend[])].filter((name) => !kept.has(name));
  return gone.sort();
}

/**
 * Deletes (with `prune`) or names the left-behind secrets that still exist. Returns the lines to print: the
 * operator sees each secret by name either way.
 */
export async function handleLeftBehindSecrets(
  client: ApiClient,
  mesh: string,
  before: MeshResource,
  prune: boolean,
): Promise<string[]> {
  const meshPath = `/meshes/${encodeURIComponent(mesh)}`;
  const after = await client.getJson<MeshResource>(meshPath);
  const existing = new Set((await client.listAll<{ name: string }>(`${meshPath}/secrets`)).map((s) => s.name));
  const left = secretsLeftBehind(mesh, before, after).filter((name) => existing.has(name));
  if (left.length === 0) return [];
  if (!prune) {
    return [
      `secrets only the removed backends used remain: ${left.join(', ')}`,
      `  delete them: meshctl rotate --mesh ${mesh} --to ${after.mtls?.enabledBackend} --prune-secrets` +
        ` (or one by one: meshctl delete secret <name> --mesh ${mesh})`,
    ];
  }
  const lines: string[] = [];
  for (const name of left) {
    await client.call('DELETE', `${meshPath}/secrets/${encodeURIComponent(name)}`);
    lines.push(`✓ deleted secret ${mesh}/${name}`);
  }
  return lines;
}
