import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

/** Key generation on libuv's thread pool: a 4096-bit RSA key does not stall other requests. */
const generateKeyPairAsync = promisify(generateKeyPair);

export interface RsaKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * Where new RSA key pairs come from (builtin CA roots, dataplane token signing keys). A dependency of the services
 * so tests can hand out real keys generated ahead of time: a fresh 2048-bit key costs ~100-200 ms of CPU.
 */
export type RsaKeySource = (modulusLength: number) => Promise<RsaKeyPair>;

/** A fresh key pair for every call, off the main thread. */
export const generateRsaKeyPair: RsaKeySource = (modulusLength) =>
  generateKeyPairAsync('rsa', { modulusLength }) as Promise<RsaKeyPair>;
