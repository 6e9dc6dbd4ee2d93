import type { FastifyInstance } from 'fastify';
import YAML from 'yaml';
import { badRequest } from '../errors.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;
const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];

/** JSON and (beyond Kuma) YAML bodies, so `curl --data-binary @mesh.yaml` works; anything else is a 415. */
export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(badRequest(`invalid JSON: ${(err as Error).message}`));
    }
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) => {
    try {
      const docs = YAML.parseAllDocuments(body as string);
      const list = Array.isArray(docs) ? docs : [docs];
      if (list.length > 1) return done(badRequest('invalid YAML: send one document per request'));
      const doc = list[0];
      if (!doc) return done(null, undefined);
      if (doc.errors.length > 0) return done(badRequest(`invalid YAML: ${doc.errors[0].message.split('\n')[0]}`));
      done(null, doc.toJS({ maxAliasCount: 100 }));
    } catch (err) {
      done(badRequest(`invalid YAML: ${(err as Error).message.split('\n')[0]}`));
    }
  });
}
