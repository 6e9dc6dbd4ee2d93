/** Writes openapi/openapi.yaml from the running app's document (`npm run openapi`); a test fails on drift. */
import { writeFileSync } from 'node:fs';
import YAML from 'yaml';
import { openApiDocument } from '../test/helpers/openapi.js';

const doc = await openApiDocument();
writeFileSync(
  new URL('../openapi/openapi.yaml', import.meta.url),
  YAML.stringify(doc, { aliasDuplicateObjects: false }),
);
console.log('wrote openapi/openapi.yaml');
