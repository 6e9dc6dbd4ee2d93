import type { FastifyInstance } from 'fastify';
import { forbidden } from '../domain/errors.js';
import type { Dataplane } from '../resources/dataplane.js';
import type { ResourceStore, StoredResource } from '../store/resource-store.js';
import { hasServiceTag, tokenTagViolation } from '../dataplanes/token-tags.js';
import { SERVICE_TAG } from '../resources/dataplane.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The caller's Dataplane as this check read it (null: none registered), for the handler that follows: it reads
     * the same row again only when this is undefined (an admin request, or a token without tags).
     */
    registeredDataplane?: StoredResource<Dataplane> | null;
  }
}

interface DataplaneTokenPolicyOptions {
  store: ResourceStore;
  /** MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG: refuse dataplane tokens not bound to a `kuma.io/service` value. */
  requireServiceTag: boolean;
}

/**
 * What a dataplane token may do beyond naming its own Dataplane (checked in auth.ts): as Kuma's dataplane
 * authenticator, its tags must match the Dataplane as registered, on every request it authenticates (GET, PUT,
 * certificate, trust bundle), not only when the dataplane registers itself. Otherwise a token bound to
 * `kuma.io/service: web` gets a `backend` certificate for a Dataplane an admin registered as `backend`.
 *
 * A preHandler hook: it runs after the body is parsed and the handler follows it without yielding to other requests,
 * so the Dataplane checked is the one the handler then reads (no admin PUT can slip in between).
 */
export function installDataplaneTokenPolicy(app: FastifyInstance, options: DataplaneTokenPolicyOptions): void {
  app.decorateRequest('registeredDataplane', undefined);
  app.addHook('preHandler', async (request) => {
    const principal = request.principal;
    if (principal?.kind !== 'dataplane' || request.routeOptions.config.access !== 'own-dataplane') return;
    if (options.requireServiceTag && !hasServiceTag(principal.tags)) {
      throw forbidden(
        `dataplane token has no "${SERVICE_TAG}" tag, and this control plane requires one (MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG): generate a token with tags {"${SERVICE_TAG}": [...]}`,
      );
    }
    if (Object.keys(principal.tags).length === 0) return;
    // The route has already matched the URL's mesh and name to the token's (auth.ts).
    const stored = await options.store.get<Dataplane>('Dataplane', principal.mesh, principal.name);
    request.registeredDataplane = stored ?? null;
    if (!stored) return; // nothing registered yet: the PUT checks its body, the other routes answer 404
    const problem = tokenTagViolation(principal.tags, stored.spec);
    if (problem) throw forbidden(`${problem} (the Dataplane as registered)`);
  });
}
