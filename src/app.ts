import swagger from '@fastify/swagger';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { installAuth } from './api/auth.js';
import { BODY_LIMIT_BYTES, installBodyParsers } from './api/body-parsers.js';
import { installDataplaneTokenPolicy } from './api/dataplane-token-policy.js';
import type { ConnectionGate } from './api/connection-gate.js';
import { installErrorHandlers } from './api/error-handler.js';
import { installFleetLane } from './api/fleet-lane.js';
import { registerGui } from './api/gui/gui-routes.js';
import { installOpsHooks } from './api/ops-hooks.js';
import { requestIdGenerator } from './api/request-ids.js';
import { documentPathParams } from './api/openapi-docs.js';
import { installZodCompilers, openApiOfRoute } from './api/zod-compilers.js';
import { registerDataplaneRoutes } from './api/routes/dataplane-routes.js';
import { registerDataplaneFactsRoute } from './api/routes/dataplane-facts-route.js';
import { registerKindRoutes } from './api/resource-routes.js';
import { registerSystemRoutes } from './api/routes/system-routes.js';
import { errorBody } from './api/error-body.js';
import type { Services } from './services.js';
import { VERSION } from './version.js';

export interface AppOptions {
  https?: HttpsServerOptions;
  /** Shared by the listeners of one process; tests through inject() have no sockets to limit. */
  connectionGate?: ConnectionGate;
}

/** Fastify's own two lines per request are replaced by the one `onResponse` line below. */
class OneLinePerRequest extends LogController {}

export const REQUEST_TIMEOUT_MS = 75_000; // above the 60 s long-poll bound

/** The HTTP API without a listener: `main.ts` listens, tests use `app.inject()`. */
export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.log,
    logController: new OneLinePerRequest({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: services.config.keepAliveTimeoutMs,
    connectionTimeout: services.config.idleTimeoutMs,
    forceCloseConnections: true,
    genReqId: requestIdGenerator(options.https ? 'https' : 'http'),
    // Resource names may be 253 characters (Kuma); longer ones get Kuma's 400 from the name check, not a 414.
    routerOptions: { maxParamLength: 1024 },
    // Errors raised before routing (a URL with bad percent-encoding) use the same error body as everything else.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      reply.status(400).send(errorBody(400, 'Bad Request', error.message, []));
    },
    ...(options.https ? { https: options.https } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  // A request's headers must arrive within this (slowloris); Node checks it every 30 s.
  app.server.headersTimeout = services.config.headersTimeoutMs;
  options.connectionGate?.guard(app.server, options.https !== undefined);

  // Route parts given as zod schemas (query strings, the contract's answers) are enforced; JSON Schema parts document.
  installZodCompilers(app);

  // The app owns its share of the services: closing it ends waiting long-polls (answered before connections are
  // cut), and the last listener to close commits pending issue records, stops the signing pool, closes the store.
  services.hold();
  app.addHook('preClose', () => services.endLongPolls());
  app.addHook('onClose', () => services.letGo());

  installBodyParsers(app);
  installErrorHandlers(app);
  installFleetLane(app, services.fleetTurns);
  installAuth(app, {
    localhostIsAdmin: services.config.localhostIsAdmin,
    adminToken: services.adminToken,
    dataplaneTokens: services.tokens,
  });
  installDataplaneTokenPolicy(app, {
    store: services.store.resources,
    requireServiceTag: services.config.dpTokenRequireServiceTag,
  });
  // One line per request (debug unless MESHCP_LOG_REQUESTS), without headers or bodies; metrics; the event log.
  installOpsHooks(app, services);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'meshcp',
        version: VERSION,
        description: "A service-mesh CA control plane following Kuma's Universal REST API.",
      },
    },
    transform: ({ schema, url }) => ({ schema: openApiOfRoute(schema) as typeof schema, url }),
  });
  documentPathParams(app);
  registerSystemRoutes(app, services);
  registerKindRoutes(app, services.handles);
  registerDataplaneRoutes(app, services);
  registerDataplaneFactsRoute(app, services);
  registerGui(app, services);
  app.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());
  return app;
}
