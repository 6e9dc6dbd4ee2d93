import type { FastifyRequest } from 'fastify';
import { invalidRequest } from '../domain/errors.js';
import type { WriteOptions } from '../mesh/mesh-service.js';

function flag(request: FastifyRequest, name: string): boolean {
  const raw = (request.query as Record<string, unknown>)[name];
  const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (value === undefined || value === 'false') return false;
  if (value === 'true' || value === '') return true;
  throw invalidRequest(`query parameter ${name} must be true or false`, [{ field: name, message: 'must be true or false' }]);
}

/** `?dryRun=true` and `?force=true` on writes. Force is admin-only (every route that honours it is). */
export function writeOptions(request: FastifyRequest): WriteOptions {
  return { dryRun: flag(request, 'dryRun'), force: flag(request, 'force') };
}

/** 201 `{}` for a create, 200 `{}` for a replace, as Kuma. */
export const statusOf = (outcome: 'created' | 'updated') => (outcome === 'created' ? 201 : 200);
