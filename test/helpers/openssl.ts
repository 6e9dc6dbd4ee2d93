// OpenSSL as an independent tool in tests: it makes the CAs and CSRs a user would bring, and parses and verifies
// what the control plane issues. Every file lives in a temp dir under os.tmpdir().
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** `openssl req -newkey` arguments of each key kind. */
export const KEY_ARGS = {
  'rsa-2048': ['-newkey', 'rsa:2048'],
  'ec-p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
} as const;
export type KeyKind = keyof typeof KEY_ARGS;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface CaOptions {
  key?: KeyKind;
  cn?: string;
  days?: number;
  /** `basicConstraints` value; default `critical,CA:TRUE`. */
  basicConstraints?: string;
  /** `keyUsage` value; default `critical,keyCertSign,cRLSign`. */
  keyUsage?: string;
  /** Signs with this CA instead of self-signing. */
  issuer?: PemPair;
}

export class OpensslWorkspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'meshcp-openssl-'));
  private counter = 0;

  file(name: string, content: string): string {
    const path = join(this.dir, `${this.counter++}-${name}`);
    writeFileSync(path, content);
    return path;
  }

  private fresh(name: string): string {
    return join(this.dir, `${this.counter++}-${name}`);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A CA certificate made by `openssl req -x509` (self-signed, or signed by `issuer` through `-CA`). */
  async ca(options: CaOptions = {}): Promise<PemPair> {
    const keyOut = this.fresh('ca.key');
    const certOut = this.fresh('ca.crt');
    const args = [
      'req',
      '-x509',
      ...KEY_ARGS[options.key ?? 'ec-p256'],
      '-nodes',
      '-days',
      String(options.days ?? 365),
    ];
    args.push('-subj', `/CN=${options.cn ?? 'test-ca'}`);
    args.push('-addext', `basicConstraints=${options.basicConstraints ?? 'critical,CA:TRUE'}`);
    args.push('-addext', `keyUsage=${options.keyUsage ?? 'critical,keyCertSign,cRLSign'}`);
    if (options.issuer) {
      args.push(
        '-CA',
        this.file('issuer.crt', options.issuer.certPem),
        '-CAkey',
        this.file('issuer.key', options.issuer.keyPem),
      );
    }
    args.push('-keyout', keyOut, '-out', certOut);
    await execFileAsync('openssl', args);
    return { certPem: readFileSync(certOut, 'utf8'), keyPem: readFileSync(keyOut, 'utf8') };
  }

  /**
   * A self-signed CA with chosen validity dates (`YYYYMMDDHHMMSSZ`), for expired or not-yet-valid material:
   * `openssl req -x509` only takes a positive `-days`, so this goes through `openssl ca -selfsign`.
   */
  async datedCa(options: { cn: string; startdate: string; enddate: string; key?: KeyKind }): Promise<PemPair> {
    const work = this.fresh('ca-db');
    mkdirSync(work);
    writeFileSync(join(work, 'index.txt'), '');
    writeFileSync(join(work, 'serial'), '01\n');
    const config = [
      '[ca]',
      'default_ca = local',
      '[local]',
      `database = ${join(work, 'index.txt')}`,
      `new_certs_dir = ${work}`,
      `serial = ${join(work, 'serial')}`,
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      '[any]',
      'commonName = supplied',
      '[v3]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign',
      '',
    ].join('\n');
    const configFile = join(work, 'ca.cnf');
    writeFileSync(configFile, config);
    const keyOut = join(work, 'ca.key');
    const csrOut = join(work, 'ca.csr');
    const certOut = join(work, 'ca.crt');
    await execFileAsync('openssl', [
      'req',
      '-new',
      ...KEY_ARGS[options.key ?? 'ec-p256'],
      '-nodes',
      '-subj',
      `/CN=${options.cn}`,
      '-keyout',
      keyOut,
      '-out',
      csrOut,
    ]);
    await execFileAsync('openssl', [
      'ca',
      '-batch',
      '-notext',
      '-config',
      configFile,
      '-selfsign',
      '-keyfile',
      keyOut,
      '-in',
      csrOut,
      '-startdate',
      options.startdate,
      '-enddate',
      options.enddate,
      '-extensions',
      'v3',
      '-out',
      certOut,
    ]);
    return { certPem: readFileSync(certOut, 'utf8'), keyPem: readFileSync(keyOut, 'utf8') };
  }

  /** A PKCS#10 request made by `openssl req -new`, with its private key. */
  async csr(options: { key?: KeyKind; subj?: string; san?: string } = {}): Promise<{ csrPem: string; keyPem: string }> {
    const keyOut = this.fresh('dp.key');
    const csrOut = this.fresh('dp.csr');
    const args = [
      'req',
      '-new',
      ...KEY_ARGS[options.key ?? 'ec-p256'],
      '-nodes',
      '-subj',
      options.subj ?? '/CN=ignored',
    ];
    if (options.san) args.push('-addext', `subjectAltName=${options.san}`);
    args.push('-keyout', keyOut, '-out', csrOut);
    await execFileAsync('openssl', args);
    return { csrPem: readFileSync(csrOut, 'utf8'), keyPem: readFileSync(keyOut, 'utf8') };
  }

  /** `openssl x509 -noout -text`: throws when OpenSSL cannot parse the certificate. */
  text(certPem: string): string {
    const r = spawnSync('openssl', ['x509', '-noout', '-text', '-in', this.file('cert.pem', certPem)], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`openssl x509 -text failed: ${r.stderr}`);
    return r.stdout;
  }

  /**
   * `openssl verify -CAfile <trusted> [-untrusted <chain>] [-purpose <p>] <leaf>`: ok only on exit 0 and ": OK".
   * `purpose` (`sslserver`, `sslclient`) makes OpenSSL check the leaf's extended key usage too.
   */
  verify(
    trustedPem: string,
    leafPem: string,
    options: { untrusted?: string; purpose?: string } = {},
  ): { ok: boolean; output: string } {
    const args = ['verify', '-CAfile', this.file('trusted.pem', trustedPem)];
    if (options.untrusted) args.push('-untrusted', this.file('untrusted.pem', options.untrusted));
    if (options.purpose) args.push('-purpose', options.purpose);
    args.push(this.file('leaf.pem', leafPem));
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    return { ok: r.status === 0 && /: OK\s*$/.test(r.stdout), output: r.stdout + r.stderr };
  }
}

/** The PEM blocks of `pem` with the given label, in order, each ending in a newline. */
export function pemBlocks(pem: string, label = 'CERTIFICATE'): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g');
  return (pem.match(re) ?? []).map((b) => `${b}\n`);
}
