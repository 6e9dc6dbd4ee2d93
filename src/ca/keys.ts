import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

/** Key generation on libuv's thread pool: a 4096-bit RSA key does not stall other requests. */
export const generateKeyPairAsync = promisify(generateKeyPair);
