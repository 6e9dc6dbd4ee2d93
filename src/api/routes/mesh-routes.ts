import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { registerResourceRoutes } from '../resource-routes.js';

export function registerMeshRoutes(app: FastifyInstance, services: Services): void {
  registerResourceRoutes(app, services.meshes, {
    kind: 'Mesh',
    collection: '/meshes',
    summaries: { list: 'List meshes', get: 'Get a mesh', put: 'Create or replace a mesh', del: 'Delete a mesh' },
  });
}
