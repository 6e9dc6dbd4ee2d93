import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Services } from '../../services.js';
import { VERSION } from '../../version.js';

/** The Kuma release whose API (and GUI) meshcp follows: the GUI links its documentation by it. */
const BASED_ON_KUMA = '2.14.3';
const KUMA_GUI_PATH = '/gui';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** kuma-cp's GuiConfig, the JSON it writes into the GUI's index.html. */
function kumaGuiConfig(services: Pick<Services, 'config'>) {
  return {
    apiUrl: '/',
    baseGuiPath: KUMA_GUI_PATH,
    version: VERSION,
    basedOnKuma: BASED_ON_KUMA,
    product: 'meshcp',
    mode: 'zone',
    environment: 'universal',
    storeType: services.config.store.type,
    apiReadOnly: false,
  };
}

/**
 * kuma-cp's template of index.html, filled: `{{.BaseGuiPath}}` and `{{.}}` (the config as JSON, escaped for a
 * script element as Go's html/template escapes it).
 */
function renderKumaGuiIndex(template: string, config: ReturnType<typeof kumaGuiConfig>): string {
  const json = JSON.stringify(config).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return template.replaceAll('{{.BaseGuiPath}}', config.baseGuiPath).replaceAll('{{.}}', json);
}

/**
 * Kuma's web GUI from a kuma-gui build (MESHCP_API_KUMA_GUI_DIR) at /gui, as kuma-cp serves it: a file of the build
 * when one is named, else index.html (the GUI routes in the browser). The files are public, as kuma-cp's: they hold
 * no data, which the GUI reads from the API with the caller's own access.
 */
export function registerKumaGui(app: FastifyInstance, services: Services, dir: string): void {
  const root = resolve(dir);
  const indexFile = join(root, 'index.html');
  if (!existsSync(indexFile))
    throw new Error(`MESHCP_API_KUMA_GUI_DIR: ${root} holds no index.html (point it at kuma-gui's dist directory)`);
  const index = renderKumaGuiIndex(readFileSync(indexFile, 'utf8'), kumaGuiConfig(services));
  const sendIndex = (reply: FastifyReply) =>
    reply.header('cache-control', 'no-cache').type(TYPES['.html']!).send(index);
  const hidden = { config: { access: 'public' as const }, schema: { hide: true } };
  app.get(KUMA_GUI_PATH, hidden, async (_request, reply) => sendIndex(reply));
  app.get<{ Params: { '*': string } }>(`${KUMA_GUI_PATH}/*`, hidden, async (request, reply) => {
    const wanted = resolve(root, request.params['*'] ?? '');
    const inside = wanted.startsWith(root + sep);
    if (!inside || wanted === indexFile || !isFile(wanted)) return sendIndex(reply);
    const type = TYPES[extname(wanted).toLowerCase()] ?? 'application/octet-stream';
    return reply
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'public, max-age=3600')
      .type(type)
      .send(await readFile(wanted));
  });
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
