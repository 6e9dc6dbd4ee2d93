/**
 * The API contract: zod schemas of the responses (and the certificate request) that the server, meshctl and
 * meshcp-dp share. The server's answers are typed by them, the OpenAPI document is generated from them, and a test
 * parses real answers with them; the CLI and the agent read them through src/client.
 */
export * from './dataplanes.js';
export * from './errors.js';
export * from './insights.js';
export * from './lists.js';
export * from './rotation.js';
