import type { CaBackendPlugin } from './backend.js';
import { builtinBackend } from './builtin-backend.js';
import { providedBackend } from './provided-backend.js';
import { vaultBackend } from './vault-backend.js';

export const caBackendPlugins: ReadonlyMap<string, CaBackendPlugin> = new Map(
  [builtinBackend, providedBackend, vaultBackend].map((plugin) => [plugin.type, plugin]),
);

export const knownBackendTypes: ReadonlySet<string> = new Set(caBackendPlugins.keys());

export function pluginFor(type: string): CaBackendPlugin {
  const plugin = caBackendPlugins.get(type);
  if (!plugin) throw new Error(`no CA backend plugin for type "${type}"`);
  return plugin;
}
