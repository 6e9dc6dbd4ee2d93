import { dataplaneServices, SERVICE_TAG, type Dataplane } from '../resources/dataplane.js';
import type { ApiClient } from '../client/http.js';
import { UsageError } from './resources.js';

export type TokenTags = Record<string, string[]>;

/** `--tag key=value` flags (repeatable; a key given twice allows both values). */
export function parseTagFlags(flags: readonly string[]): TokenTags {
  const tags: TokenTags = {};
  for (const tag of flags) {
    const eq = tag.indexOf('=');
    if (eq <= 0) throw new UsageError(`--tag must be key=value, got "${tag}"`);
    (tags[tag.slice(0, eq)] ??= []).push(tag.slice(eq + 1));
  }
  return tags;
}

/**
 * Binds a token to the Dataplane's current `kuma.io/service` values unless the flags already name the service: an
 * untagged token lets its holder re-register the Dataplane as any service and receive that service's SPIFFE ID.
 * Returns the tags to send and a note for stderr (what was bound, or why nothing was).
 */
export async function withDataplaneServiceTag(
  client: ApiClient,
  mesh: string,
  name: string,
  tags: TokenTags,
): Promise<{ tags: TokenTags; note?: string }> {
  if (SERVICE_TAG in tags) return { tags };
  const path = `/meshes/${encodeURIComponent(mesh)}/dataplanes/${encodeURIComponent(name)}`;
  const response = await client.call('GET', path, { accept: [404] });
  const services = response.status === 404 ? [] : dataplaneServices(JSON.parse(response.text) as Dataplane);
  if (services.length === 0) {
    return {
      tags,
      note: `note: Dataplane ${mesh}/${name} is not registered yet, so the token accepts any service; bind it with --tag ${SERVICE_TAG}=<service>`,
    };
  }
  return {
    tags: { ...tags, [SERVICE_TAG]: services },
    note: `note: token bound to ${SERVICE_TAG}=${services.join(',')} (Dataplane ${mesh}/${name} as registered; --no-service-tag to opt out)`,
  };
}
