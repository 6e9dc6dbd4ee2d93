import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for secret specs at rest. The row identity is the additional authenticated data, so a ciphertext
 * copied onto another secret's row fails to decrypt instead of silently moving a CA key.
 */
/**
 * The data at rest was sealed with another key than the one this process has: said once, with where the key came
 * from and what to check, instead of OpenSSL's "Unsupported state or unable to authenticate data".
 */
export class SecretsKeyMismatch extends Error {}

/** Where the key came from and what an operator should check when it does not open the data. */
interface SecretsKeySource {
  /** `MESHCP_SECRETS_KEY`, or the key file's path. */
  name: string;
  /** What to check when it is the wrong key. */
  check: string;
}

export function secretsKeySource(dataDir: string, fromEnv?: string): SecretsKeySource {
  const file = join(dataDir, 'secrets.key');
  return fromEnv
    ? {
        name: 'MESHCP_SECRETS_KEY',
        check: `set MESHCP_SECRETS_KEY to the key this database was written with (the same on every instance sharing it; unset, ${file} is used instead)`,
      }
    : {
        name: file,
        check: `${file} must be the key file this database was written with (restore it from the same backup as the database), or set MESHCP_SECRETS_KEY to that key`,
      };
}

export class SecretCipher {
  /** A short fingerprint of the key (not the key): lets operators compare the key of two instances in logs. */
  readonly keyId: string;

  constructor(
    private readonly key: Buffer,
    private readonly source: SecretsKeySource = {
      name: 'the secrets key',
      check: 'use the key this database was written with',
    },
  ) {
    if (key.length !== 32) throw new Error('the secrets key must be 32 bytes');
    this.keyId = createHash('sha256').update('meshcp secrets key id\n').update(key).digest('hex').slice(0, 12);
  }

  encrypt(plaintext: Buffer, identity: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(identity));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), body]);
  }

  decrypt(blob: Buffer, identity: string): Buffer {
    if (blob[0] !== FORMAT_V1) throw new Error('unknown secret encryption format');
    const iv = blob.subarray(1, 1 + IV_BYTES);
    const tag = blob.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAAD(Buffer.from(identity));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(blob.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      // GCM authentication failed: a wrong key (or a row altered outside meshcp, which the same key check rules out).
      throw new SecretsKeyMismatch(
        `the secrets key from ${this.source.name} (key id ${this.keyId}) does not decrypt ${identity}: the data at rest was sealed with another key. Check: ${this.source.check}`,
      );
    }
  }
}

/** The key comes from MESHCP_SECRETS_KEY (base64 of 32 bytes) or a 0600 file created in the data dir. */
export function loadSecretsKey(dataDir: string, fromEnv?: string): Buffer {
  if (fromEnv) {
    const key = Buffer.from(fromEnv, 'base64');
    if (key.length !== 32) throw new Error('MESHCP_SECRETS_KEY must be the base64 of exactly 32 bytes');
    return key;
  }
  const file = join(dataDir, 'secrets.key');
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold the base64 of a 32-byte key`);
  return key;
}
