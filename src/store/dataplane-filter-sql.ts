import type { DataplaneListFilter } from './resource-store.js';

/**
 * `<tags>` (a JSON object expression) holds every selected tag: the key is present and its value contains the
 * selected text, or the selected text is `*`. SQLite's instr() is 1 for an empty needle, so `key:` matches any value
 * of that key, as Kuma's substring match does.
 */
function tagsMatch(tags: string, selector: Record<string, string>, params: unknown[]): string {
  const parts = Object.entries(selector).map(([key, value]) => {
    params.push(key, value, value);
    return `EXISTS (SELECT 1 FROM json_each(${tags}) AS t WHERE t.key = ? AND (? = '*' OR instr(t.value, ?) > 0))`;
  });
  return parts.join(' AND ');
}

/**
 * SQL conditions (pushing their parameters) for Kuma's Dataplane list filters, on the unencrypted spec JSON:
 * a dataplane matches `tag=` when one of its inbounds, or its gateway, carries all selected tags.
 */
export function sqliteDataplaneFilter(filter: DataplaneListFilter, params: unknown[]): string[] {
  const where: string[] = [];
  const gateway = "json_extract(resources.spec, '$.networking.gateway')";
  const gatewayType = "coalesce(json_extract(resources.spec, '$.networking.gateway.type'), 'DELEGATED')";
  switch (filter.gateway) {
    case 'true':
      where.push(`${gateway} IS NOT NULL`);
      break;
    case 'false':
      where.push(`${gateway} IS NULL`);
      break;
    case 'builtin':
      where.push(`${gateway} IS NOT NULL AND ${gatewayType} = 'BUILTIN'`);
      break;
    case 'delegated':
      where.push(`${gateway} IS NOT NULL AND ${gatewayType} = 'DELEGATED'`);
      break;
    default:
      break;
  }
  if (Object.keys(filter.tags).length > 0) {
    const onInbound = tagsMatch("ib.value, '$.tags'", filter.tags, params);
    const inbound = `EXISTS (SELECT 1 FROM json_each(resources.spec, '$.networking.inbound') AS ib WHERE ${onInbound})`;
    const onGateway = tagsMatch("resources.spec, '$.networking.gateway.tags'", filter.tags, params);
    where.push(`(${inbound} OR (${onGateway}))`);
  }
  return where;
}

/** PostgreSQL's form of the same filters, on the spec bytes decoded as jsonb. */
export function postgresDataplaneFilter(filter: DataplaneListFilter, params: unknown[]): string[] {
  const spec = "convert_from(resources.spec, 'UTF8')::jsonb";
  const object = (json: string) => `CASE WHEN jsonb_typeof(${json}) = 'object' THEN ${json} ELSE '{}'::jsonb END`;
  const tagsMatch = (tags: string) =>
    Object.entries(filter.tags)
      .map(([key, value]) => {
        params.push(key, value, value);
        return `EXISTS (SELECT 1 FROM jsonb_each_text(${object(tags)}) AS t WHERE t.key = ? AND (? = '*' OR strpos(t.value, ?) > 0))`;
      })
      .join(' AND ');
  const where: string[] = [];
  const gateway = `(${spec} #> '{networking,gateway}')`;
  const gatewayType = `coalesce(${spec} #>> '{networking,gateway,type}', 'DELEGATED')`;
  const gatewayCondition = {
    true: `${gateway} IS NOT NULL`,
    false: `${gateway} IS NULL`,
    builtin: `${gateway} IS NOT NULL AND ${gatewayType} = 'BUILTIN'`,
    delegated: `${gateway} IS NOT NULL AND ${gatewayType} = 'DELEGATED'`,
  };
  if (filter.gateway) where.push(gatewayCondition[filter.gateway]);
  if (Object.keys(filter.tags).length > 0) {
    const inbounds = `CASE WHEN jsonb_typeof(${spec} #> '{networking,inbound}') = 'array' THEN ${spec} #> '{networking,inbound}' ELSE '[]'::jsonb END`;
    const inbound = `EXISTS (SELECT 1 FROM jsonb_array_elements(${inbounds}) AS ib WHERE ${tagsMatch("ib.value -> 'tags'")})`;
    const onGateway = tagsMatch(`${spec} #> '{networking,gateway,tags}'`);
    where.push(`(${inbound} OR (${onGateway}))`);
  }
  return where;
}
