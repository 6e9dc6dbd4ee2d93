import type { FastifyInstance } from 'fastify';
import type { FleetTurns } from '../fleet-turns.js';

/**
 * Agents' routes (`config.fleet`) start in the fleet's lane, before anything else is done for them (token
 * verification included), so a storm of agent requests cannot keep the operator's requests waiting.
 */
export function installFleetLane(app: FastifyInstance, turns: FleetTurns): void {
  app.addHook('onRequest', (request, _reply, done) => {
    if (!request.routeOptions.config.fleet) return done();
    const wait = turns.turn();
    if (!wait) return done();
    void wait.then(() => done());
  });
}
