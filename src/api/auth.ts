import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DataplaneTokenVerifier, Principal } from '../domain/principal.js';
import { forbidden, unauthenticated } from '../domain/errors.js';

/** Who may call a route: anyone; admins; or admins and the dataplane named in the URL. */
export type Access = 'public' | 'admin' | 'own-dataplane';

export interface AuthOptions {
  localhostIsAdmin: boolean;
  adminToken: string;
  dataplaneTokens: DataplaneTokenVerifier;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    access?: Access;
    /** An agent's route (trust bundle, certificate): it starts in the fleet's lane (src/fleet-turns.ts). */
    fleet?: boolean;
  }
}

/** Any of these says a proxy stands between the caller and us: the loopback peer is then the proxy, not the caller. */
const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-real-ip',
  'x-forwarded-host',
  'x-forwarded-proto',
  'via',
];

function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(plain) === 4) return plain.startsWith('127.');
  return plain === '::1';
}

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(1, hostHeader.indexOf(']'));
  return hostHeader.split(':')[0];
}

const isLoopbackHost = (host: string) => host === 'localhost' || isLoopbackAddress(host);

/**
 * Kuma 2.14's strict "localhost is admin": a loopback peer, a loopback Host, no forwarding headers (a proxy on the
 * same machine must not make every remote caller an admin), and nothing that marks a cross-site browser request.
 */
export function isLocalAdminRequest(request: FastifyRequest): boolean {
  if (!isLoopbackAddress(request.socket.remoteAddress)) return false;
  if (FORWARDING_HEADERS.some((h) => request.headers[h] !== undefined)) return false;
  const host = request.headers.host ?? '';
  if (!isLoopbackHost(hostnameOf(host))) return false;
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite !== undefined && !['', 'same-origin', 'none'].includes(String(fetchSite))) return false;
  const origin = request.headers.origin;
  if (origin !== undefined) {
    try {
      const url = new URL(String(origin));
      if (url.host !== host || !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ''))) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Where a caller away from loopback finds the admin token, and how to send it. */
const ADMIN_TOKEN_HINT =
  ' (the control plane wrote it to <data dir>/admin-token; send it as "Authorization: Bearer <token>", e.g. meshctl --token-file <copy of admin-token>)';

function describe(principal: Principal): string {
  if (principal.kind === 'dataplane') return `dataplane "${principal.name}" of mesh "${principal.mesh}"`;
  return 'user "mesh-system:anonymous/mesh-system:unauthenticated"';
}

/** Authenticates every request, then enforces the route's `config.access`. */
export function installAuth(app: FastifyInstance, options: AuthOptions): void {
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (request) => {
    const access: Access = request.routeOptions.config.access ?? 'admin';
    request.principal = await authenticate(request, options, access);
    authorize(request, access);
  });
}

async function authenticate(request: FastifyRequest, options: AuthOptions, access: Access): Promise<Principal> {
  // Public routes act the same for everyone: a token sent to them is not even read (verifying costs CPU, and a
  // stranger must not be able to make us do that work, or keep anything, by sending tokens to /healthz).
  if (access === 'public') return { kind: 'anonymous' };
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const token = match?.[1];
    if (token && sameSecret(token, options.adminToken)) return { kind: 'admin' };
    const dataplane = token ? await options.dataplaneTokens.verify(token) : undefined;
    if (dataplane) return dataplane;
    throw unauthenticated();
  }
  if (options.localhostIsAdmin && isLocalAdminRequest(request)) return { kind: 'admin' };
  return { kind: 'anonymous' };
}

function authorize(request: FastifyRequest, access: Access): void {
  const principal = request.principal;
  if (access === 'public' || principal.kind === 'admin') return;
  if (access === 'own-dataplane' && principal.kind === 'dataplane') {
    const params = request.params as { mesh?: string; name?: string };
    if (params.mesh === principal.mesh && params.name === principal.name) return;
    throw forbidden(`${describe(principal)} can act only on its own Dataplane`);
  }
  throw forbidden(
    `${describe(principal)} cannot access ${request.method} ${request.routeOptions.url}: an admin token is required${principal.kind === 'anonymous' ? ADMIN_TOKEN_HINT : ''}`,
  );
}
