#!/usr/bin/env node
// Writes test/fixtures/rsa-keys/rsa-<bits>.pem: real RSA keys the tests hand to the services instead of generating
// one per mesh (test/helpers/rsa-key-pool.ts). Published test keys: never use them outside the tests.
// Usage: node scripts/make-test-rsa-keys.mjs   (regenerates every file)
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';

/** Keys per size: more than the one control plane that creates the most meshes (test/app/many-cas.test.ts) uses. */
const COUNTS = { 2048: 96, 3072: 4 };

const dir = new URL('../test/fixtures/rsa-keys/', import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [bits, count] of Object.entries(COUNTS)) {
  const keys = [];
  for (let i = 0; i < count; i++) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: Number(bits) });
    keys.push(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  }
  const header = `Test-only RSA-${bits} keys (scripts/make-test-rsa-keys.mjs). They are public: never use them outside the tests.\n\n`;
  writeFileSync(new URL(`rsa-${bits}.pem`, dir), header + keys.join(''));
}
