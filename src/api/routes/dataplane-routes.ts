import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { dataplaneOverview } from '../../dataplanes/insights.js';
import { listBody, parseListQuery } from '../list-query.js';
import { DataplaneOverviewSchema, IssuedCertificateSchema, listOf, TrustBundleSchema } from '../../contract/index.js';
import { docs } from '../openapi-docs.js';
import { TrustBundleQuerySchema, type TrustBundleQuery } from '../query-schemas.js';
import { POLL_ENDED } from '../../dataplanes/limits.js';

type Params = { mesh: string; name: string };

const DATAPLANES = { dataplanes: true };

const overviewListDocs = (summary: string) =>
  docs.custom(
    'Dataplane',
    summary,
    docs.answers(listOf(DataplaneOverviewSchema), 'the dataplanes with their certificate insights, a page at a time'),
  );

const trustBundleDocs = docs.custom('Dataplane', 'The trust bundle; If-None-Match acknowledges, ?wait= long-polls', {
  ...docs.answers(TrustBundleSchema, 'the current trust bundle (304 without a body: the held one is current)'),
  description: [
    "Acknowledgement protocol for dataplane agents (only calls made with the dataplane's own token count).",
    '`If-None-Match: "<bundleVersion>"` says which bundle the proxy holds, i.e. has loaded and uses to verify peers.',
    'Send it only once the proxy really uses that bundle (after its reload succeeded), never merely because the files were written:',
    'rule 1 (enable a backend) counts these acknowledgements; `bundleVersion` in a certificate request body is the same acknowledgement.',
    '`servedSerial=<hex>` says which certificate the proxy serves. Send it after every successful reload.',
    "When it names the newest certificate issued to the dataplane, the control plane counts that certificate's backend as served;",
    'until then the dataplane also counts as holding a certificate from the backend it served before, so rule 2 (remove a backend)',
    'waits for what proxies serve, not only for what was issued. A dataplane that never sends it is counted by issued certificates alone.',
  ].join(' '),
  querystring: TrustBundleQuerySchema,
  headers: {
    type: 'object',
    properties: {
      'if-none-match': { type: 'string', description: '"<bundleVersion>" the proxy holds: the acknowledgement' },
    },
  },
});

/** `If-None-Match: "<version>"` (or a bare or weak tag) names the bundle the dataplane holds. */
function heldVersion(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return header.split(',')[0].trim().replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

export function registerDataplaneRoutes(app: FastifyInstance, services: Services): void {
  const { dataplanes, facts } = services;

  const own = { access: 'own-dataplane' as const };
  const agentRoute = { ...own, fleet: true };
  for (const path of ['/meshes/:mesh/dataplanes/_overview', '/meshes/:mesh/dataplanes+insights']) {
    app.get<{ Params: { mesh: string } }>(
      path,
      { schema: overviewListDocs('Dataplanes with their certificate insights') },
      async (request) => {
        const query = parseListQuery(request, request.params.mesh, DATAPLANES);
        return listBody(request, query, dataplanes.list(query), (dp) => dataplaneOverview(dp, facts));
      },
    );
  }
  app.get(
    '/dataplanes+insights',
    { schema: overviewListDocs('Dataplanes of every mesh with insights') },
    async (request) => {
      const query = parseListQuery(request, undefined, DATAPLANES);
      return listBody(request, query, dataplanes.list(query), (dp) => dataplaneOverview(dp, facts));
    },
  );
  for (const path of ['/meshes/:mesh/dataplanes/:name/_overview', '/meshes/:mesh/dataplanes+insights/:name']) {
    app.get<{ Params: Params }>(
      path,
      {
        schema: docs.custom(
          'Dataplane',
          'One dataplane with its certificate insight',
          docs.answers(DataplaneOverviewSchema, 'the dataplane and its certificate insight'),
        ),
      },
      async (request) => dataplaneOverview(await dataplanes.get(request.params.mesh, request.params.name), facts),
    );
  }

  app.post<{ Params: Params }>(
    '/meshes/:mesh/dataplanes/:name/certificate',
    {
      config: agentRoute,
      schema: docs.custom(
        'Dataplane',
        'Issue a certificate to a dataplane (from a CSR, or with a generated key)',
        docs.answers(IssuedCertificateSchema, 'the certificate and the trust bundle'),
      ),
    },
    async (request) => {
      const { mesh, name } = request.params;
      // Admission first: a request refused for a busy moment must not spend the dataplane's rate budget.
      const leave = services.issuanceAdmission.enter();
      try {
        if (request.principal.kind === 'dataplane')
          services.certificateLimiter.take(`${mesh}/${name}`, 'certificate requests');
        return await services.certificates.issue(
          mesh,
          name,
          request.body,
          request.principal.kind === 'dataplane',
          request.registeredDataplane ?? undefined,
        );
      } finally {
        leave();
      }
    },
  );

  app.get<{ Params: Params; Querystring: TrustBundleQuery }>(
    '/meshes/:mesh/dataplanes/:name/trust-bundle',
    { config: agentRoute, schema: trustBundleDocs },
    async (request, reply) => {
      const abort = new AbortController();
      reply.raw.once('close', () => abort.abort(POLL_ENDED)); // the client went away mid long-poll
      if (request.raw.socket?.destroyed) abort.abort(POLL_ENDED); // ... or while it waited for its turn in the fleet's lane
      const { mesh, name } = request.params;
      const { wait: waitMs = 0, servedSerial } = request.query;
      const gate = waitMs > 0 ? services.longPolls.enter(`${mesh}/${name}`, abort.signal) : undefined;
      // The poll counts until its answer is written (or its client is gone), so shutdown can wait for the answer.
      if (gate) {
        reply.raw.once('finish', gate.release);
        reply.raw.once('close', gate.release);
      }
      let answer;
      try {
        answer = await services.trustBundles.get(mesh, name, heldVersion(request.headers['if-none-match']), waitMs, {
          fromDataplane: request.principal.kind === 'dataplane',
          servedSerial,
          signal: gate?.signal,
          registered: request.registeredDataplane ?? undefined,
        });
      } catch (err) {
        gate?.release();
        throw err;
      }
      if (answer.status === 304) return reply.status(304).header('etag', `"${answer.bundleVersion}"`).send();
      return reply
        .header('etag', `"${answer.bundle.bundleVersion}"`)
        .type('application/json; charset=utf-8')
        .send(answer.json);
    },
  );
}
