import { randomBytes } from 'node:crypto';

/** Differs per process start, so ids stay unique in a log that spans restarts. */
const PROCESS_TAG = randomBytes(3).toString('hex');

/**
 * Request ids unique across the HTTP and HTTPS listeners (Fastify's default `req-1` restarts per listener):
 * `<listener>-<process tag>-<counter>`, e.g. `https-3fa9c1-17`.
 */
export function requestIdGenerator(listener: 'http' | 'https' | 'diagnostics'): () => string {
  let next = 0;
  return () => `${listener}-${PROCESS_TAG}-${(++next).toString(36)}`;
}
