/**
 * After a rotation: the secrets no backend of the mesh uses any more (a builtin CA's key among them), whoever removed
 * the backends that used them.
 */
import { backendSecretNames, vaultChainSecretName } from '../../resources/backend-secrets.js';
import { builtinCertSecretName, builtinKeySecretName, type CaBackend } from '../../resources/mesh.js';
import type { ApiClient } from '../../client/http.js';
import type { MeshResource } from '../types.js';

const usedBy = (mesh: string, backends: CaBackend[]) => new Set(backends.flatMap((b) => backendSecretNames(mesh, b)));

/** Names the control plane gives a backend's own material: they belong to a backend, whichever one. */
function isBackendMaterial(mesh: string, secret: string): boolean {
  return [builtinCertSecretName(mesh, ''), builtinKeySecretName(mesh, ''), vaultChainSecretName(mesh, '')].some(
    (prefix) => secret.startsWith(prefix) && secret.length > prefix.length,
  );
}

/**
 * Existing secrets that no backend of `after` uses: the material the control plane made for a backend that is gone
 * (whoever removed it), and the secrets the backends of `before` named (e.g. a provided CA's). In name order.
 */
function secretsLeftBehind(mesh: string, before: MeshResource, after: MeshResource, existing: string[]): string[] {
  const kept = usedBy(mesh, (after.mtls?.backends ?? []) as CaBackend[]);
  const namedBefore = usedBy(mesh, (before.mtls?.backends ?? []) as CaBackend[]);
  return existing.filter((name) => !kept.has(name) && (namedBefore.has(name) || isBackendMaterial(mesh, name))).sort();
}

/**
 * Names the left-behind secrets, then (with `prune`) deletes them. Returns the lines to print: the operator sees
 * each secret by name before anything is deleted.
 */
export async function handleLeftBehindSecrets(
  client: ApiClient,
  mesh: string,
  before: MeshResource,
  prune: boolean,
): Promise<string[]> {
  const meshPath = `/meshes/${encodeURIComponent(mesh)}`;
  const after = await client.getJson<MeshResource>(meshPath);
  const existing = (await client.listAll<{ name: string }>(`${meshPath}/secrets`)).map((s) => s.name);
  const left = secretsLeftBehind(mesh, before, after, existing);
  if (left.length === 0) return [];
  if (!prune) {
    return [
      `secrets no backend of mesh ${mesh} uses any more remain: ${left.join(', ')}`,
      `  delete them: meshctl rotate --mesh ${mesh} --to ${after.mtls?.enabledBackend} --prune-secrets` +
        ` (or one by one: meshctl delete secret <name> --mesh ${mesh})`,
    ];
  }
  const lines: string[] = [`secrets no backend of mesh ${mesh} uses any more: ${left.join(', ')}`];
  for (const name of left) {
    await client.call('DELETE', `${meshPath}/secrets/${encodeURIComponent(name)}`);
    lines.push(`✓ deleted secret ${mesh}/${name}`);
  }
  return lines;
}
