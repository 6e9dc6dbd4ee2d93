import type { FastifyInstance } from 'fastify';
import YAML from 'yaml';
import { badRequest } from '../errors.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;
const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];
/** Far above any resource's real nesting; deeper bodies would overflow the stack of the recursive checks (a 500). */
export const MAX_BODY_DEPTH = 100;

/** Whether objects/arrays nest deeper than `max` levels (iterative, so the check itself cannot overflow). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

const tooDeep = (format: string) => badRequest(`invalid ${format}: nested deeper than ${MAX_BODY_DEPTH} levels`);

/** JSON and (beyond Kuma) YAML bodies, so `curl --data-binary @mesh.yaml` works; anything else is a 415. */
export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(badRequest(`invalid JSON: ${(err as Error).message}`));
    }
    if (nestsDeeperThan(value, MAX_BODY_DEPTH)) return done(tooDeep('JSON'));
    done(null, value);
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) => {
    try {
      const docs = YAML.parseAllDocuments(body as string);
      const list = Array.isArray(docs) ? docs : [docs];
      if (list.length > 1) return done(badRequest('invalid YAML: send one document per request'));
      const doc = list[0];
      if (!doc) return done(null, undefined);
      if (doc.errors.length > 0) return done(badRequest(`invalid YAML: ${doc.errors[0].message.split('\n')[0]}`));
      const value: unknown = doc.toJS({ maxAliasCount: 100 });
      if (nestsDeeperThan(value, MAX_BODY_DEPTH)) return done(tooDeep('YAML'));
      done(null, value);
    } catch (err) {
      done(badRequest(`invalid YAML: ${(err as Error).message.split('\n')[0]}`));
    }
  });
}
