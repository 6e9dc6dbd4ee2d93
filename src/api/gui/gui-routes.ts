import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { guiSnapshot } from './gui-state.js';
import { sleep } from '../../domain/clock.js';
import { registerKumaGui } from './kuma-gui.js';

/** meshcp's own rotation view; also at /gui unless a kuma-gui build is served there (MESHCP_API_KUMA_GUI_DIR). */
const ROTATION_VIEW_PATH = '/meshcp-gui';

/** The longest a page's poll waits for a change (below every idle timeout), and how often it looks meanwhile. */
const LONG_POLL_MS = 25_000;
const CHECK_EVERY_MS = 500;

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'gui.js': 'text/javascript; charset=utf-8',
  'gui.css': 'text/css; charset=utf-8',
};

/** The static files sit next to this module in src/; a build in dist/ reads them from src/ too. */
function assetDir(): string {
  const here = fileURLToPath(new URL('./static/', import.meta.url));
  return existsSync(here) ? here : fileURLToPath(new URL('../../../src/api/gui/static/', import.meta.url));
}

// No inline script or style: the page can run nothing it did not load from here, and a dataplane name is only text.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * GET /meshcp-gui (and /gui without a kuma-gui build): a read-only page of meshes, CA backends, rotation progress and dataplanes, live through a long-poll
 * on /meshcp-gui/api/state (admin access, as the JSON API it reads). The static files are public: they hold no data.
 */
export function registerGui(app: FastifyInstance, services: Services): void {
  const dir = assetDir();
  const files = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(dir + name) }]));
  const serve = (name: string) => async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const file = files.get(name)!;
    return reply.headers(SECURITY_HEADERS).type(file.type).send(file.body);
  };
  const hidden = { config: { access: 'public' as const }, schema: { hide: true } };
  const view = ROTATION_VIEW_PATH;
  const pages = services.config.kumaGuiDir ? [view] : [view, '/gui'];
  for (const page of pages) {
    app.get(page, hidden, serve('index.html'));
    app.get(`${page}/`, hidden, serve('index.html'));
  }
  app.get(`${view}/gui.js`, hidden, serve('gui.js'));
  app.get(`${view}/gui.css`, hidden, serve('gui.css'));
  if (services.config.kumaGuiDir) registerKumaGui(app, services, services.config.kumaGuiDir);

  app.get<{ Querystring: { since?: string } }>(
    `${view}/api/state`,
    { schema: { hide: true } },
    async (request, reply) => {
      const since = typeof request.query.since === 'string' ? request.query.since : undefined;
      let snapshot = await guiSnapshot(services, services.clock.now());
      const gone = new AbortController();
      request.raw.once('close', () => gone.abort());
      const deadline = services.clock.now() + LONG_POLL_MS;
      while (
        since !== undefined &&
        snapshot.version === since &&
        services.clock.now() < deadline &&
        !gone.signal.aborted
      ) {
        // Progress is mostly dataplanes acknowledging and re-issuing, which emit no event: look every 500 ms.
        await sleep(services.clock, CHECK_EVERY_MS, gone.signal);
        snapshot = await guiSnapshot(services, services.clock.now());
      }
      return reply.header('cache-control', 'no-store').send(snapshot);
    },
  );
}
