import type { FastifyRequest } from 'fastify';
import type { WriteOptions } from '../mesh/mesh-rules.js';
import type { WriteQuery } from './query-schemas.js';

/**
 * `?dryRun=true` and `?force=true` on writes, as WriteQuerySchema (the route's querystring) parsed them.
 * Force is admin-only (every route that honours it is).
 */
export function writeOptions(request: FastifyRequest): WriteOptions {
  const query = request.query as WriteQuery;
  return { dryRun: query.dryRun ?? false, force: query.force ?? false };
}

/** 201 `{}` for a create, 200 `{}` for a replace, as Kuma. */
export const statusOf = (outcome: 'created' | 'updated') => (outcome === 'created' ? 201 : 200);
