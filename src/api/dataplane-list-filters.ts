import type { FastifyRequest } from 'fastify';
import { invalidResource, Titles } from '../domain/errors.js';
import type { DataplaneListFilter, GatewayMode } from '../store/resource-store.js';

type Query = Record<string, string | string[] | undefined>;

const GATEWAY_MODES: readonly string[] = ['true', 'false', 'builtin', 'delegated'];

/**
 * Kuma's Dataplane list filters. `tag=<key>:<value>` (repeatable; split at the first ':', so values may contain ':';
 * a parameter without ':' is ignored; the last value of a repeated key wins) keeps dataplanes where one inbound, or
 * the gateway, has every given key with a value containing the given text (`*` matches any value).
 * `gateway=true|false|builtin|delegated` (any case) keeps gateways, non-gateways, or one gateway type; another value
 * is a 400 at `<route template>.gateway`, worded (with its typo) as Kuma's.
 */
export function parseDataplaneListFilter(request: FastifyRequest, routeTemplate: string): DataplaneListFilter {
  const query = request.query as Query;
  const rawTags = query.tag === undefined ? [] : Array.isArray(query.tag) ? query.tag : [query.tag];
  const tags: Record<string, string> = {};
  for (const raw of rawTags) {
    const colon = raw.indexOf(':');
    if (colon < 0) continue;
    tags[raw.slice(0, colon)] = raw.slice(colon + 1);
  }
  const rawGateway =
    query.gateway === undefined ? '' : Array.isArray(query.gateway) ? (query.gateway[0] ?? '') : query.gateway;
  const mode = rawGateway.toLowerCase();
  if (mode !== '' && !GATEWAY_MODES.includes(mode)) {
    throw invalidResource(Titles.list, [
      {
        field: `${routeTemplate}.gateway`,
        message: `shoud use \`true\`, \`false\`, 'builtin' or 'delegated' instead of ${mode}`,
      },
    ]);
  }
  return { tags, gateway: mode === '' ? undefined : (mode as GatewayMode) };
}
