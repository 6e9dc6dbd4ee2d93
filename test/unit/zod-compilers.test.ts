import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { TrustBundleSchema } from '../../src/contract/index.js';
import { installErrorHandlers } from '../../src/api/error-handler.js';
import { TrustBundleQuerySchema, WriteQuerySchema } from '../../src/api/query-schemas.js';
import { installZodCompilers } from '../../src/api/zod-compilers.js';

const bundle = {
  caBundle: 'PEM',
  bundleVersion: 'v1',
  supportedBackends: ['ca-1'],
  enabledBackend: 'ca-1',
  reissue: false,
};

/** A real Fastify app with meshcp's compilers and error handler, and routes whose handlers misbehave on purpose. */
async function appWith(answer: () => object) {
  const app = Fastify();
  installZodCompilers(app);
  installErrorHandlers(app);
  app.get(
    '/bundle',
    { schema: { querystring: TrustBundleQuerySchema, response: { 200: TrustBundleSchema } } },
    async (request) => ({
      ...answer(),
      waited: (request.query as { wait?: number }).wait,
    }),
  );
  app.put('/thing', { schema: { querystring: WriteQuerySchema } }, async (request) => request.query);
  await app.ready();
  return app;
}

describe('zod as the validator and serializer', () => {
  it('writes an answer as its contract schema names it: an extra field (a key, a stray internal) never leaves', async () => {
    const app = await appWith(() => ({
      ...bundle,
      privateKey: '-----BEGIN PRIVATE KEY-----',
      internalState: { x: 1 },
    }));
    const res = await app.inject({ method: 'GET', url: '/bundle' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), bundle);
    assert.doesNotMatch(res.body, /PRIVATE KEY|internalState|waited/);
    await app.close();
  });

  it('refuses to send an answer that breaks its contract (a 500 in the error body, not a half-right document)', async () => {
    const { reissue: _dropped, ...incomplete } = bundle;
    const app = await appWith(() => incomplete);
    const res = await app.inject({ method: 'GET', url: '/bundle' });
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), {
      type: '/std-errors',
      status: 500,
      title: 'Internal Server Error',
      detail: 'Internal Server Error',
      details: 'Internal Server Error',
    });
    await app.close();
  });

  it('validates query strings with the domain refusal in Kuma words, and hands the handler the parsed values', async () => {
    const app = await appWith(() => bundle);
    const bad = await app.inject({ method: 'GET', url: '/bundle?wait=soon&servedSerial=0A' });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), {
      type: '/std-errors',
      status: 400,
      title: 'Bad Request',
      detail: 'wait must be a duration such as 30s (at most 60s)',
      invalid_parameters: [{ field: 'wait', reason: 'has to be a valid format' }],
      details: 'wait must be a duration such as 30s (at most 60s)',
      causes: [{ field: 'wait', message: 'has to be a valid format' }],
    });
    const serial = await app.inject({ method: 'GET', url: '/bundle?servedSerial=not-hex' });
    assert.equal(serial.json().detail, 'servedSerial must be the hexadecimal serial number of a certificate');

    const flag = await app.inject({ method: 'PUT', url: '/thing?dryRun=maybe' });
    assert.equal(flag.statusCode, 400);
    assert.equal(flag.json().detail, 'query parameter dryRun must be true or false');
    // Repeated: the last one counts; a bare flag is true; other parameters pass through untouched.
    assert.deepEqual((await app.inject({ method: 'PUT', url: '/thing?dryRun=maybe&dryRun=true&force&x=1' })).json(), {
      dryRun: true,
      force: true,
      x: '1',
    });
    await app.close();
  });
});
