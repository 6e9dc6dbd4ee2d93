import type { CaBackendPlugin } from './backend.js';
import { builtinBackend } from './builtin-backend.js';
import { providedBackend } from './provided-backend.js';
import { vaultBackend } from './vault-backend.js';

export const caBackendPlugins: ReadonlyMap<string, CaBackendPlugin> = new Map(
  [builtinBackend, providedBackend, vaultBackend].map((plugin) => [plugin.type, plugin]),
);

export const knownBackendTypes: ReadonlySet<string> = new Set(caBackendPlugins.keys());

/** Every conf path any backend type may carry a secret inline in: what the store seals (see `sealedFields`). */
export const sealedConfFields: readonly string[] = [
  ...new Set([...caBackendPlugins.values()].flatMap((plugin) => plugin.sealedFields)),
];

export function pluginFor(type: string): CaBackendPlugin {
  const plugin = caBackendPlugins.get(type);
  if (!plugin) throw new Error(`no CA backend plugin for type "${type}"`);
  return plugin;
}
