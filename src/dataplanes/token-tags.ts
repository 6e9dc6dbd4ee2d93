import { dataplaneTags, SERVICE_TAG, type Dataplane } from '../resources/dataplane.js';

type TokenTags = Readonly<Record<string, readonly string[]>>;

/**
 * Kuma's token-tag rule: every tag key the token names must be on the dataplane (its inbounds or gateway), and every
 * value the dataplane has for that key must be one the token allows. Returns the refusal, naming the tag, or undefined.
 */
export function tokenTagViolation(tokenTags: TokenTags, dp: Dataplane): string | undefined {
  const tags = dataplaneTags(dp);
  for (const [key, allowed] of Object.entries(tokenTags)) {
    const values = tags.get(key);
    if (!values) return `dataplane has no tag "${key}" required by the token`;
    for (const value of values) {
      if (!allowed.includes(value)) {
        return `dataplane contains tag "${key}" with value "${value}" which is not allowed with this token. Allowed values in token are [${allowed.join(' ')}]`;
      }
    }
  }
  return undefined;
}

/** Whether a token is bound to at least one `kuma.io/service` value (what MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG asks). */
export function hasServiceTag(tokenTags: TokenTags): boolean {
  return (tokenTags[SERVICE_TAG] ?? []).some((value) => value !== '');
}
