import type { FastifyRequest } from 'fastify';
import { DomainError, invalidResource, Titles } from '../domain/errors.js';
import { parseLabelFilters } from '../resources/labels.js';
import type { ListQuery, StoredResource } from '../store/resource-store.js';
import { renderResource } from './render.js';
import { parseDataplaneListFilter } from './dataplane-list-filters.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

type Query = Record<string, string | string[] | undefined>;

function listError(detail: string, field?: string, reason?: string): DomainError {
  return new DomainError({
    kind: 'invalid',
    title: Titles.list,
    detail,
    violations: field && reason ? [{ field, message: reason }] : [],
  });
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[value.length - 1] : value);

/** The route as Kuma names it in violations: its template, `/meshes/{mesh}/dataplanes`, not the URL. */
export function routeTemplate(request: FastifyRequest): string {
  const template = request.routeOptions.url ?? request.url.split('?')[0]!;
  return template.replace(/:([A-Za-z_]\w*)/g, '{$1}');
}

/**
 * Kuma's list parameters: size, offset, name, filter[labels.<key>], with Kuma's 400s; on Dataplane lists also
 * `tag=` and `gateway=` (see dataplane-list-filters.ts).
 */
export function parseListQuery(
  request: FastifyRequest,
  mesh?: string,
  options: { dataplanes?: boolean } = {},
): ListQuery {
  const query = request.query as Query;
  const rawSize = single(query.size);
  let size = DEFAULT_PAGE_SIZE;
  if (rawSize !== undefined) {
    if (!/^-?\d+$/.test(rawSize)) throw listError('Invalid page size', 'size', 'invalid format');
    size = Number(rawSize);
    if (size <= 0) throw listError('Invalid page size', 'size', 'must be greater than 0');
    if (size > MAX_PAGE_SIZE) {
      throw listError(
        'Invalid page size',
        'size',
        `invalid page size of ${rawSize}. Maximum page size is ${MAX_PAGE_SIZE}`,
      );
    }
  }
  const rawOffset = single(query.offset);
  let offset = 0;
  if (rawOffset !== undefined && rawOffset !== '') {
    if (!/^-?\d+$/.test(rawOffset) || !Number.isSafeInteger(Number(rawOffset))) {
      throw listError(`invalid: invalid offset: strconv.Atoi: parsing ${JSON.stringify(rawOffset)}: invalid syntax`);
    }
    offset = Number(rawOffset);
    if (offset < 0) throw listError('invalid: invalid offset: must be non-negative');
  }
  const template = routeTemplate(request);
  const { filters, violations } = parseLabelFilters(query, template);
  if (violations.length > 0) throw invalidResource(Titles.list, violations);
  const dataplane = options.dataplanes ? parseDataplaneListFilter(request, template) : undefined;
  return {
    mesh,
    nameContains: single(query.name) || undefined,
    labels: Object.fromEntries(filters),
    dataplane,
    offset,
    size,
  };
}

/** `{total, items, next}` with `next` an absolute URL that keeps the other parameters, as Kuma. */
export async function listBody<S extends object>(
  request: FastifyRequest,
  query: ListQuery,
  pageOrPromise: { total: number; items: StoredResource<S>[] } | Promise<{ total: number; items: StoredResource<S>[] }>,
  render: (item: StoredResource<S>) => object | Promise<object> = renderResource,
) {
  const page = await pageOrPromise;
  let next: string | null = null;
  if (query.offset + page.items.length < page.total) {
    const params = new URLSearchParams();
    const current = request.query as Query;
    for (const key of Object.keys(current).sort()) {
      if (key === 'offset') continue;
      const value = current[key];
      for (const v of Array.isArray(value) ? value : [value ?? '']) params.append(key, v);
    }
    params.append('offset', String(query.offset + query.size));
    const sorted = new URLSearchParams([...params.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    next = `${request.protocol}://${request.host}${request.url.split('?')[0]}?${sorted.toString()}`;
  }
  const items = [];
  for (const item of page.items) items.push(await render(item));
  return { total: page.total, items, next };
}
