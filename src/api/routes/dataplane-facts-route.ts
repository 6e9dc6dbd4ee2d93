import type { FastifyInstance } from 'fastify';
import { notFound, Titles } from '../../domain/errors.js';
import type { Services } from '../../services.js';
import { DataplaneCertificateFactsSchema, type DataplaneCertificateFacts } from '../../contract/index.js';
import { docs } from '../openapi-docs.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * What the control plane knows about one dataplane's certificate and trust (meshctl inspect dataplane <name>):
 * the newest certificate, the serial its proxy reported serving, the bundle it acknowledged and its last contact.
 */
export function registerDataplaneFactsRoute(app: FastifyInstance, services: Services): void {
  app.get<{ Params: { mesh: string; name: string } }>(
    '/meshes/:mesh/dataplanes/:name/_certificate-facts',
    {
      schema: docs.custom(
        'Dataplane',
        "One dataplane's certificate, acknowledged bundle and last contact",
        docs.answers(DataplaneCertificateFactsSchema, 'what the control plane knows of the dataplane'),
      ),
    },
    async (request): Promise<DataplaneCertificateFacts> => {
      const { mesh, name } = request.params;
      if (!(await services.store.resources.exists('Dataplane', mesh, name))) throw notFound(Titles.retrieve);
      const facts = await services.facts.get(mesh, name);
      const now = services.clock.now();
      return {
        mesh,
        name,
        issuedBackend: facts?.issuedBackend ?? null,
        issuedSerial: facts?.issuedSerial ?? null,
        servedSerial: facts?.servedSerial ?? null,
        servedBackend: facts?.servedBackend ?? null,
        certNotBefore: iso(facts?.certNotBefore ?? null),
        certNotAfter: facts?.issuedBackend ? iso(facts.certNotAfter) : null,
        lastIssueTime: iso(facts?.lastIssueTime ?? null),
        certificateRegenerations: facts?.issuedBackend ? facts.regenerations : 0,
        acknowledgedBundleVersion: facts?.ackedBundleVersion ?? null,
        trustedBackends: facts?.trusted.map((t) => t.backend) ?? [],
        lastContact: iso(facts?.lastContact ?? null),
        online: facts?.lastContact != null && facts.lastContact >= now - services.config.dpOnlineWindowMs,
      };
    },
  );
}
