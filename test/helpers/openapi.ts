import { createTestApp } from './app.js';

/** The OpenAPI document exactly as the server serves it at /openapi.json. */
export async function openApiDocument(): Promise<unknown> {
  const t = await createTestApp({}, { defaultMesh: false });
  try {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    return res.json();
  } finally {
    await t.close();
  }
}
