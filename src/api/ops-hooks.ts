import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Mesh } from '../resources/mesh.js';
import { attemptedStep, meshChangeEvents } from '../ops/mesh-change-events.js';
import type { Services } from '../services.js';

const MESH_ROUTE = '/meshes/:name';
const CERTIFICATE_ROUTE = '/meshes/:mesh/dataplanes/:name/certificate';
const DATAPLANE_CONTACT_ROUTES = new Set([CERTIFICATE_ROUTE, '/meshes/:mesh/dataplanes/:name/trust-bundle']);

/** Why a certificate request was refused, by status: a small fixed set, so the counter's series stay few. */
const REJECT_REASONS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'unknown_dataplane',
  409: 'mesh_ca_unavailable',
  429: 'rate_limited',
  503: 'signing_unavailable',
};

interface Noted {
  meshBefore?: Mesh;
  /** The mesh as the successful write left it (read before the answer is sent). */
  meshAfter?: Mesh;
  /** The mesh label of a refused certificate request. */
  meshLabel?: string;
  firstContact?: boolean;
  payload?: string;
  /** The backend that issued an answered certificate (taken from the answer before it is serialized). */
  issuedBackend?: string;
}

/**
 * Metrics and the operator's event log, as hooks around the routes (the domain services stay unaware of both):
 * one `info` line per meaningful event, request lines at `debug` (or `info` with MESHCP_LOG_REQUESTS=true).
 */
export function installOpsHooks(app: FastifyInstance, services: Services): void {
  const { metrics } = services;
  const log = services.log;
  const noted = new WeakMap<FastifyRequest, Noted>();
  // A mesh label only for meshes that exist: strangers' URLs must not create series.
  const meshLabel = async (mesh: string | undefined) =>
    mesh && (await services.meshes.exists('', mesh)) ? mesh : 'unknown';

  app.addHook('preHandler', async (request) => {
    const route = request.routeOptions.url;
    const params = request.params as { name?: string; mesh?: string };
    if (route === MESH_ROUTE && (request.method === 'PUT' || request.method === 'DELETE')) {
      noted.set(request, {
        meshBefore: (await services.store.resources.get<Mesh>('Mesh', '', params.name ?? ''))?.spec,
      });
    } else if (route && DATAPLANE_CONTACT_ROUTES.has(route) && request.principal.kind === 'dataplane') {
      // On the hot path of every agent poll: one primary-key probe, not the full facts read.
      noted.set(request, { firstContact: !(await services.facts.exists(params.mesh ?? '', params.name ?? '')) });
    }
  });

  // The issued certificate's backend is read from the answer object, not parsed back out of the serialized body.
  app.addHook('preSerialization', (request, reply, payload, done) => {
    if (request.routeOptions.url === CERTIFICATE_ROUTE && reply.statusCode === 200) {
      const backend = (payload as { issuedBackend?: unknown } | null)?.issuedBackend;
      noted.set(request, { ...noted.get(request), issuedBackend: typeof backend === 'string' ? backend : 'unknown' });
    }
    done(null, payload);
  });

  // Store reads happen here, before the answer leaves: once a client has its answer, the event line and the
  // counters are already there (onResponse does no I/O).
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    const status = reply.statusCode;
    const params = request.params as { name?: string; mesh?: string };
    const note: Noted = { ...noted.get(request) };
    const keep = route === MESH_ROUTE && status === 409;
    if (keep && typeof payload === 'string') note.payload = payload;
    if (route === MESH_ROUTE && request.method === 'PUT' && status < 300) {
      note.meshAfter = (
        await services.store.resources.get<Mesh>('Mesh', '', params.name ?? '').catch(() => undefined)
      )?.spec;
    }
    if (route === CERTIFICATE_ROUTE && request.method === 'POST' && status !== 200) {
      note.meshLabel = await meshLabel(params.mesh).catch(() => 'unknown');
    }
    noted.set(request, note);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    metrics.httpDuration.observe({ method: request.method, route, status: String(status) }, reply.elapsedTime / 1000);
    const line = { method: request.method, url: request.url.split('?')[0], status, ms: Math.round(reply.elapsedTime) };
    if (services.config.logRequests) request.log.info(line, 'request');
    else request.log.debug(line, 'request');

    const params = request.params as { name?: string; mesh?: string };
    const note = noted.get(request) ?? {};
    if (route === MESH_ROUTE && request.method !== 'GET') {
      onMeshWrite(request, status, params.name ?? '', note);
    } else if (route === CERTIFICATE_ROUTE && request.method === 'POST') {
      if (status === 200) {
        metrics.certificatesIssued.inc({ mesh: params.mesh ?? '', backend: note.issuedBackend ?? 'unknown' });
      } else {
        metrics.certificateRequestsRejected.inc({
          mesh: note.meshLabel ?? 'unknown',
          reason: REJECT_REASONS[status] ?? `http_${status}`,
        });
      }
    } else if (route === '/tokens/dataplane' && status === 200) {
      const body = (request.body ?? {}) as { name?: string; mesh?: string; tags?: unknown; validFor?: string };
      log.info(
        {
          event: 'token-issued',
          mesh: body.mesh ?? 'default',
          dataplane: body.name,
          tags: body.tags,
          validFor: body.validFor,
        },
        `dataplane token issued for ${body.name ?? 'any dataplane'} in mesh ${body.mesh ?? 'default'}`,
      );
    }
    if (note.firstContact && status < 300) {
      log.info(
        { event: 'dataplane-first-seen', mesh: params.mesh, dataplane: params.name },
        `dataplane ${params.name} of mesh ${params.mesh} first seen`,
      );
    }
  });

  function onMeshWrite(request: FastifyRequest, status: number, mesh: string, note: Noted): void {
    const query = request.query as { dryRun?: string };
    if (query.dryRun === 'true') return;
    if (status === 409 && note.payload) {
      const body = JSON.parse(note.payload) as {
        detail?: string;
        invalid_parameters?: { field: string; reason: string }[];
      };
      const step = attemptedStep(note.meshBefore, request.body);
      log.info(
        { event: 'rotation-step-refused', mesh, step, rules: body.invalid_parameters ?? [], detail: body.detail },
        `rotation step "${step}" on mesh ${mesh} refused: ${(body.invalid_parameters ?? []).map((v) => v.reason).join('; ') || body.detail}`,
      );
      return;
    }
    if (status >= 300) return;
    // ?force=true that skipped rules is logged by the mesh service (event "force-used"), naming the rules it skipped.
    for (const event of meshChangeEvents(mesh, note.meshBefore, note.meshAfter)) log.info(event.fields, event.msg);
  }
}
