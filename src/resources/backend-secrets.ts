import { providedConfSecretNames } from './ca-conf.js';
import { builtinCertSecretName, builtinKeySecretName, type CaBackend } from './mesh.js';
import { validateVaultConf, vaultConfSecretNames } from './vault-conf.js';

/** The Secret holding the key that signs a mesh's dataplane tokens (Kuma's name). */
export const signingKeySecretName = (mesh: string) => `dataplane-token-signing-key-${mesh}-1`;

/** The Secret that caches a vault backend's CA chain (fetched from Vault at PUT). */
export const vaultChainSecretName = (mesh: string, backend: string) => `${mesh}.ca-vault-chain-${backend}`;

/**
 * The secrets a CA backend uses (its material, and the secrets its conf names): pure, so the control plane (delete
 * protection) and meshctl (secrets left behind by a rotation) share one answer. Unknown types use none.
 */
export function backendSecretNames(mesh: string, backend: CaBackend): string[] {
  switch (backend.type) {
    case 'builtin':
      return [builtinCertSecretName(mesh, backend.name), builtinKeySecretName(mesh, backend.name)];
    case 'provided':
      return providedConfSecretNames(backend.conf ?? {});
    case 'vault': {
      const { conf } = validateVaultConf(backend.conf);
      return [...(conf ? vaultConfSecretNames(conf) : []), vaultChainSecretName(mesh, backend.name)];
    }
    default:
      return [];
  }
}
