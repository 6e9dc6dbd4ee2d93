import type { FastifyInstance } from 'fastify';
import { invalidRequest } from '../domain/errors.js';
import { jsonExceedsBounds, parseBoundedYaml, valueExceedsBounds } from './body-bounds.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;
const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];

/** JSON and (beyond Kuma) YAML bodies, so `curl --data-binary @mesh.yaml` works; anything else is a 415. */
export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
    (_req, body, done) => {
      const text = body as string;
      if (text.trim() === '') return done(null, undefined);
      const tooLarge = jsonExceedsBounds(text);
      if (tooLarge) return done(invalidRequest(`invalid JSON: ${tooLarge}`));
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return done(invalidRequest(`invalid JSON: ${(err as Error).message}`));
      }
      const excess = valueExceedsBounds(value);
      if (excess) return done(invalidRequest(`invalid JSON: ${excess}`));
      done(null, value);
    },
  );
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) => {
    let value: unknown;
    try {
      value = parseBoundedYaml(body as string);
    } catch (err) {
      return done(invalidRequest(`invalid YAML: ${(err as Error).message.split('\n')[0]}`));
    }
    const excess = valueExceedsBounds(value);
    if (excess) return done(invalidRequest(`invalid YAML: ${excess}`));
    done(null, value);
  });
}
