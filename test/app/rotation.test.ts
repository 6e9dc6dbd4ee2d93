// The CA rotation validators through the HTTP layer (`app.inject()`), with facts made by the real certificate and
// trust-bundle endpoints: 409s in Kuma's error format, Retry-After, dry runs, force, secrets in use, deleted and
// expired dataplanes, concurrent PUTs, and the rotation status document agreeing with what the PUT does.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { RsaKeySource } from '../../src/ca/keys.js';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { slowPooledRsaKeys } from '../helpers/rsa-key-pool.js';

const EXAMPLES = new URL('../../examples/', import.meta.url);
const manifest = (file: string) => readFileSync(new URL(file, EXAMPLES), 'utf8');
const STEP = [0, 1, 2, 3].map((i) =>
  manifest(['0-mesh-ca-1.yaml', '1-add-ca-2.yaml', '2-enable-ca-2.yaml', '3-remove-ca-1.yaml'][i]),
);

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const YAML_TYPE = { 'content-type': 'application/yaml' };

interface Answer {
  status: number;
  body: any;
  retryAfter: string | undefined;
}

interface Pem {
  certPem: string;
  keyPem: string;
}

let workDir: string;
let ca2: Pem;
let ca3: Pem;

/** A provided CA as the guide makes it, with openssl (ECDSA P-256 here). */
function opensslCa(cn: string): Pem {
  const key = join(workDir, `${cn}.key`);
  const cert = join(workDir, `${cn}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '3650',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

before(() => {
  workDir = mkdtempSync(join(tmpdir(), 'meshcp-rotation-app-'));
  ca2 = opensslCa('ca-2');
  ca3 = opensslCa('ca-3');
});
after(() => rmSync(workDir, { recursive: true, force: true }));

const dataplane = (name: string, service: string) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: {
    address: '127.0.0.1',
    inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': service } }],
  },
});

/** One fresh control plane, with helpers that act as the operator and as the dataplanes. */
class Cp {
  logLines: string[] = [];
  /** Dataplane tokens: only the dataplane's own calls acknowledge a bundle. */
  private readonly tokens = new Map<string, string>();
  private constructor(readonly t: TestApp) {}

  static async start(rsaKeys?: RsaKeySource): Promise<Cp> {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    // Signing on the main thread keeps these many small control planes quick; the e2e test runs the worker pool.
    const cp = new Cp(
      await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { logTo: sink, ...(rsaKeys ? { rsaKeys } : {}) }),
    );
    cp.logLines = lines;
    return cp;
  }

  close() {
    return this.t.close();
  }

  async call(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    url: string,
    payload?: string | object,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await this.t.app.inject({
      method,
      url,
      headers: { ...admin, ...headers },
      ...(payload === undefined ? {} : { payload: payload as string }),
    });
    const retryAfter = res.headers['retry-after'];
    return {
      status: res.statusCode,
      body: String(res.headers['content-type'] ?? '').startsWith('application/json')
        ? JSON.parse(res.body)
        : res.body || undefined,
      retryAfter: retryAfter === undefined ? undefined : String(retryAfter),
    };
  }

  putMesh(yaml: string, query = ''): Promise<Answer> {
    return this.call('PUT', `/meshes/default${query}`, yaml, YAML_TYPE);
  }

  /** The guide's secrets, as in examples/secret-ca-2-*.yaml with the base64 of the PEMs filled in. */
  async putCaSecrets(prefix: string, pem: Pem, query = ''): Promise<Answer[]> {
    const out: Answer[] = [];
    for (const [suffix, data] of [
      ['cert', pem.certPem],
      ['key', pem.keyPem],
    ] as const) {
      const doc = parseYaml(manifest(`secret-ca-2-${suffix}.yaml`));
      doc.name = `${prefix}-${suffix}`;
      doc.data = Buffer.from(data).toString('base64');
      out.push(await this.call('PUT', `/meshes/default/secrets/${doc.name}${query}`, stringifyYaml(doc), YAML_TYPE));
    }
    return out;
  }

  async addDataplanes(...names: string[]) {
    for (const name of names) {
      const res = await this.call(
        'PUT',
        `/meshes/default/dataplanes/${name}`,
        dataplane(name, name.replace(/-\d+$/, '')),
      );
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const token = await this.call('POST', '/tokens/dataplane', { name, mesh: 'default' });
      assert.equal(token.status, 200);
      this.tokens.set(name, token.body);
    }
  }

  /** A call made by the dataplane itself, with its own token. */
  asDataplane(
    name: string,
    method: 'GET' | 'POST',
    url: string,
    payload?: object,
    headers: Record<string, string> = {},
  ) {
    return this.call(method, url, payload, { ...headers, authorization: `Bearer ${this.tokens.get(name)}` });
  }

  async issue(name: string, body: object = {}): Promise<any> {
    const res = await this.asDataplane(name, 'POST', `/meshes/default/dataplanes/${name}/certificate`, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }

  /** What a dataplane does after installing the current bundle: tells the CP it holds it (If-None-Match). */
  async acknowledge(...names: string[]) {
    for (const name of names) {
      const current = await this.asDataplane(name, 'GET', `/meshes/default/dataplanes/${name}/trust-bundle`);
      assert.equal(current.status, 200);
      const ack = await this.asDataplane(name, 'GET', `/meshes/default/dataplanes/${name}/trust-bundle`, undefined, {
        'if-none-match': `"${current.body.bundleVersion}"`,
      });
      assert.ok(ack.status === 304 || (ack.status === 200 && ack.body.reissue), `ack of ${name}: ${ack.status}`);
    }
  }

  async status(): Promise<any> {
    const res = await this.call('GET', '/meshes/default/ca-rotation');
    assert.equal(res.status, 200);
    return res.body;
  }

  /** Everything a dry run must leave alone. */
  async snapshot() {
    const mesh = await this.call('GET', '/meshes/default');
    const secrets = await this.call('GET', '/meshes/default/secrets');
    const dataplanes = await this.call('GET', '/meshes/default/dataplanes+insights');
    return { mesh: mesh.body, secrets: secrets.body, dataplanes: dataplanes.body, rotation: await this.status() };
  }

  /** Sends `yaml` as a dry run and for real; both answers must be the same, and the dry run must change nothing. */
  async dryRunThenPut(yaml: string): Promise<Answer> {
    const before = await this.snapshot();
    const dry = await this.putMesh(yaml, '?dryRun=true');
    assert.deepEqual(await this.snapshot(), before, 'a dry run writes nothing');
    const real = await this.putMesh(yaml);
    assert.deepEqual(dry, real, 'a dry run answers exactly as the real call');
    return real;
  }

  warnings(): any[] {
    return this.logLines.map((l) => JSON.parse(l)).filter((l) => l.level === 40);
  }
}

/** The names a rotation 409 lists (after the last ": "), without the "and N more" tail. */
function namesIn(message: string): string[] {
  return message
    .slice(message.lastIndexOf(': ') + 2)
    .replace(/ and \d+ more$/, '')
    .split(', ');
}

/** A 409 in Kuma's error format with exactly one violation at `field`; returns its message. */
function conflictAt(answer: Answer, field: string): string {
  assert.equal(answer.status, 409, JSON.stringify(answer.body));
  assert.deepEqual(Object.keys(answer.body), [
    'type',
    'status',
    'title',
    'detail',
    'invalid_parameters',
    'details',
    'causes',
  ]);
  const { type, status, title, detail, details, invalid_parameters: params, causes } = answer.body;
  assert.deepEqual(
    [type, status, title, detail, details],
    ['/std-errors', 409, 'Failed to update a resource', 'Resource is not valid', 'Resource is not valid'],
  );
  assert.equal(params.length, 1, JSON.stringify(params));
  assert.equal(params[0].field, field);
  assert.deepEqual(causes, [{ field, message: params[0].reason }]);
  return params[0].reason as string;
}

/**
 * The status document and the PUT of the next step agree: `ready` exactly when the (dry-run) PUT passes, and when
 * it does not, the 409 names the same count and dataplanes as `waitingFor`.
 */
async function assertStatusAgreesWithPut(cp: Cp, nextYaml: string) {
  const status = await cp.status();
  const dry = await cp.putMesh(nextYaml, '?dryRun=true');
  const step = status.nextStep;
  if (step.ready) {
    assert.equal(
      dry.status,
      200,
      `status says ready for "${step.action} ${step.backend}" but the PUT says ${JSON.stringify(dry.body)}`,
    );
    return status;
  }
  const field = step.action === 'enable' ? 'mtls.enabledBackend' : 'mtls.backends';
  const message = conflictAt(dry, field);
  assert.match(message, new RegExp(`"${step.backend}" yet: ${step.waitingFor.count} active dataplanes? `));
  assert.deepEqual(namesIn(message), step.waitingFor.names);
  assert.ok(dry.retryAfter !== undefined && Number(dry.retryAfter) > 0, 'waiting helps: Retry-After is set');
  return status;
}

const backendStatus = (status: any, name: string) => status.backends.find((b: any) => b.name === name);

/** mesh default at step 0 (builtin ca-1) with ca-2's secrets stored and `names` holding acknowledged ca-1 certificates. */
async function cpAtStep0(...names: string[]): Promise<Cp> {
  return cpAtStep0With(undefined, ...names);
}

async function cpAtStep0With(rsaKeys: RsaKeySource | undefined, ...names: string[]): Promise<Cp> {
  const cp = await Cp.start(rsaKeys);
  assert.deepEqual(
    (await cp.putCaSecrets('ca-2', ca2)).map((a) => a.status),
    [201, 201],
  );
  assert.equal((await cp.putMesh(STEP[0])).status, 200);
  await cp.addDataplanes(...names);
  for (const name of names) await cp.issue(name);
  await cp.acknowledge(...names);
  return cp;
}

describe('walking the guide: each step refused too soon, passing once ready, the status agreeing throughout', () => {
  let cp: Cp;
  before(async () => {
    cp = await cpAtStep0('web-1', 'web-2', 'api-1');
  });
  after(() => cp.close());

  it('step 0: nothing in progress', async () => {
    const status = await cp.status();
    assert.equal(status.enabledBackend, 'ca-1');
    assert.equal(status.activeDataplanes, 3);
    assert.deepEqual(status.nextStep, { action: 'none', ready: true, description: 'no CA rotation in progress' });
    assert.deepEqual(
      [backendStatus(status, 'ca-1').dataplanesIssued, backendStatus(status, 'ca-1').dataplanesTrusting],
      [3, 3],
    );
  });

  it('step 2 sent before step 1 is refused without Retry-After: the backend must be added first', async () => {
    const answer = await cp.dryRunThenPut(STEP[2]);
    assert.match(
      conflictAt(answer, 'mtls.enabledBackend'),
      /backend "ca-2" must be added to the mesh in an earlier update/,
    );
    assert.equal(answer.retryAfter, undefined);
  });

  it('step 1 passes; step 2 right after it is refused (409, Retry-After) naming every dataplane, dry run identical', async () => {
    assert.deepEqual(await cp.dryRunThenPut(STEP[1]), { status: 200, body: {}, retryAfter: undefined });
    const status = await assertStatusAgreesWithPut(cp, STEP[2]);
    assert.deepEqual(
      [status.nextStep.action, status.nextStep.backend, status.nextStep.ready],
      ['enable', 'ca-2', false],
    );
    assert.equal(backendStatus(status, 'ca-2').dataplanesTrusting, 0);

    const answer = await cp.dryRunThenPut(STEP[2]);
    const message = conflictAt(answer, 'mtls.enabledBackend');
    assert.equal(
      message,
      'cannot enable backend "ca-2" yet: 3 active dataplanes do not trust it yet (no acknowledged trust bundle with its root): api-1, web-1, web-2',
    );
    assert.equal(answer.retryAfter, '5');
  });

  it('a bundle the CP merely sent does not count: a new certificate alone is no acknowledgement', async () => {
    const issued = await cp.issue('api-1');
    assert.deepEqual(issued.supportedBackends, ['ca-1', 'ca-2']);
    const status = await assertStatusAgreesWithPut(cp, STEP[2]);
    assert.equal(status.nextStep.waitingFor.count, 3);
  });

  it('as dataplanes acknowledge, fewer are named; step 2 passes once all have', async () => {
    await cp.acknowledge('web-1');
    let status = await assertStatusAgreesWithPut(cp, STEP[2]);
    assert.deepEqual(status.nextStep.waitingFor.names, ['api-1', 'web-2']);
    // The certificate request's bundleVersion is an acknowledgement too.
    const current = (await cp.call('GET', '/meshes/default/dataplanes/web-2/trust-bundle')).body.bundleVersion;
    // An operator reading the bundle acknowledges nothing; the dataplane's certificate request does.
    assert.deepEqual((await cp.status()).nextStep.waitingFor.names, ['api-1', 'web-2']);
    await cp.issue('web-2', { bundleVersion: current });
    status = await assertStatusAgreesWithPut(cp, STEP[2]);
    assert.deepEqual(status.nextStep.waitingFor.names, ['api-1']);
    await cp.acknowledge('api-1');
    status = await assertStatusAgreesWithPut(cp, STEP[2]);
    assert.equal(status.nextStep.ready, true);
    assert.equal(backendStatus(status, 'ca-2').dataplanesTrusting, 3);
    assert.deepEqual(await cp.dryRunThenPut(STEP[2]), { status: 200, body: {}, retryAfter: undefined });
  });

  it('step 3 right after step 2 is refused (409, Retry-After) while ca-1 certificates are held', async () => {
    const status = await assertStatusAgreesWithPut(cp, STEP[3]);
    assert.deepEqual([status.nextStep.action, status.nextStep.backend], ['remove', 'ca-1']);
    const answer = await cp.dryRunThenPut(STEP[3]);
    assert.equal(
      conflictAt(answer, 'mtls.backends'),
      'cannot remove backend "ca-1" yet: 3 active dataplanes still hold a certificate issued by it: api-1, web-1, web-2',
    );
    assert.equal(answer.retryAfter, '5');
  });

  it('the trust bundle tells every dataplane to re-issue; step 3 passes once all have', async () => {
    for (const name of ['web-1', 'web-2', 'api-1']) {
      const bundle = await cp.call('GET', `/meshes/default/dataplanes/${name}/trust-bundle`);
      assert.deepEqual([bundle.body.enabledBackend, bundle.body.reissue], ['ca-2', true]);
    }
    assert.equal((await cp.issue('web-2')).issuedBackend, 'ca-2');
    let status = await assertStatusAgreesWithPut(cp, STEP[3]);
    assert.deepEqual(status.nextStep.waitingFor.names, ['api-1', 'web-1']);
    await cp.issue('web-1');
    await cp.issue('api-1');
    status = await assertStatusAgreesWithPut(cp, STEP[3]);
    assert.equal(status.nextStep.ready, true);
    assert.deepEqual(
      [backendStatus(status, 'ca-1').dataplanesIssued, backendStatus(status, 'ca-2').dataplanesIssued],
      [0, 3],
    );
    assert.deepEqual(await cp.dryRunThenPut(STEP[3]), { status: 200, body: {}, retryAfter: undefined });
  });

  it('after step 3 the bundle holds only ca-2 and nothing is in progress', async () => {
    const status = await cp.status();
    assert.deepEqual(
      status.backends.map((b: any) => b.name),
      ['ca-2'],
    );
    assert.deepEqual(status.nextStep, { action: 'none', ready: true, description: 'no CA rotation in progress' });
    const bundle = (await cp.call('GET', '/meshes/default/dataplanes/web-1/trust-bundle')).body;
    assert.deepEqual(bundle.supportedBackends, ['ca-2']);
    assert.equal(new X509Certificate(bundle.caBundle).fingerprint256, new X509Certificate(ca2.certPem).fingerprint256);
    assert.equal(bundle.caBundle.match(/BEGIN CERTIFICATE/g).length, 1);
  });
});

describe('refusals that waiting does not fix carry no Retry-After', () => {
  let cp: Cp;
  before(async () => {
    cp = await cpAtStep0('web-1');
    assert.equal((await cp.putMesh(STEP[1])).status, 200);
    assert.deepEqual(
      (await cp.putCaSecrets('ca-3', ca3)).map((a) => a.status),
      [201, 201],
    );
  });
  after(() => cp.close());

  it('step 3 right after step 1 (enable ca-2 and remove ca-1 at once) is 409 naming the skipped step, no Retry-After', async () => {
    const answer = await cp.dryRunThenPut(STEP[3]);
    assert.equal(answer.status, 409);
    const removal = answer.body.invalid_parameters.find((p: { field: string }) => p.field === 'mtls.backends');
    assert.match(
      removal.reason,
      /cannot remove backend "ca-1" in the same update that enables "ca-2".*Enable "ca-2" in its own update first/,
    );
    assert.equal(answer.retryAfter, undefined, 'waiting never helps: ca-2 is not enabled');
  });

  it('replacing ca-2 in place (new secrets under the same name) is 409 at mtls.backends[1]', async () => {
    const replaced = STEP[1].replace(/ca-2-cert/, 'ca-3-cert').replace(/ca-2-key/, 'ca-3-key');
    const answer = await cp.dryRunThenPut(replaced);
    assert.match(
      conflictAt(answer, 'mtls.backends[1]'),
      /backend "ca-2" cannot change its type or conf while mTLS is enabled/,
    );
    assert.equal(answer.retryAfter, undefined);
  });

  it("changing the builtin ca-1's caCert is 409 at mtls.backends[0], and still with mTLS off", async () => {
    const withCaCert = STEP[1].replace(
      '    type: builtin\n',
      '    type: builtin\n    conf:\n      caCert:\n        RSAbits: 4096\n',
    );
    assert.match(
      conflictAt(await cp.dryRunThenPut(withCaCert), 'mtls.backends[0]'),
      /the CA of builtin backend "ca-1" already exists/,
    );
    // Turning mTLS off is allowed; changing the builtin CA's parameters then is still refused.
    const off = STEP[1].replace('enabledBackend: ca-1', 'enabledBackend: ""');
    assert.equal((await cp.putMesh(off)).status, 200);
    const offWithCaCert = withCaCert.replace('enabledBackend: ca-1', 'enabledBackend: ""');
    const answer = await cp.dryRunThenPut(offWithCaCert);
    assert.match(conflictAt(answer, 'mtls.backends[0]'), /already exists and is never regenerated/);
    assert.equal(answer.retryAfter, undefined);
    assert.equal((await cp.putMesh(STEP[1])).status, 200, 'turning it back on passes (rule 5)');
  });
});

describe('expired certificates do not block; a returning dataplane gets a fresh certificate', () => {
  let cp: Cp;
  before(async () => {
    cp = await cpAtStep0('web-1', 'web-2', 'gone-1');
    // gone-1 was issued a ca-1 certificate that has expired since, and never acknowledged anything.
    const now = Date.now();
    await cp.t.services.facts.recordIssue('default', 'gone-1', {
      backend: 'ca-1',
      identity: 'old',
      notBefore: now - 7_200_000,
      notAfter: now - 1_000,
      renewAfter: now - 3_600_000,
      issuedAt: now - 7_200_000,
    });
    // An issue recorded for a dataplane with no resource at all (e.g. a CP from before) behaves the same.
    await cp.t.services.facts.recordIssue('default', 'ghost', {
      backend: 'ca-1',
      identity: 'old',
      notBefore: now - 7_200_000,
      notAfter: now - 1,
      renewAfter: now - 3_600_000,
      issuedAt: now - 7_200_000,
    });
  });
  after(() => cp.close());

  it('neither counts as active nor blocks step 2 or step 3', async () => {
    assert.equal((await cp.putMesh(STEP[1])).status, 200);
    assert.equal((await cp.status()).activeDataplanes, 2);
    const refused = conflictAt(await cp.putMesh(STEP[2], '?dryRun=true'), 'mtls.enabledBackend');
    assert.deepEqual(namesIn(refused), ['web-1', 'web-2']);
    await cp.acknowledge('web-1', 'web-2');
    assert.equal((await assertStatusAgreesWithPut(cp, STEP[2])).nextStep.ready, true);
    assert.equal((await cp.dryRunThenPut(STEP[2])).status, 200);
    await cp.issue('web-1');
    await cp.issue('web-2');
    const status = await assertStatusAgreesWithPut(cp, STEP[3]);
    assert.equal(status.nextStep.ready, true, 'gone-1 and ghost still "hold" expired ca-1 certificates');
    assert.equal(backendStatus(status, 'ca-1').dataplanesIssued, 0);
  });

  it('a live certificate does block: the same gate with an unexpired fact', async () => {
    const now = Date.now();
    await cp.t.services.facts.recordIssue('default', 'ghost', {
      backend: 'ca-1',
      identity: 'old',
      notBefore: now - 1000,
      notAfter: now + 60_000,
      renewAfter: now + 30_000,
      issuedAt: now - 1000,
    });
    assert.deepEqual(namesIn(conflictAt(await cp.putMesh(STEP[3], '?dryRun=true'), 'mtls.backends')), ['ghost']);
    await cp.t.services.facts.deleteDataplane('default', 'ghost');
  });

  it('when the expired dataplane returns it is told to re-issue and gets a ca-2 certificate and the current bundle', async () => {
    const bundle = await cp.asDataplane('gone-1', 'GET', '/meshes/default/dataplanes/gone-1/trust-bundle');
    assert.deepEqual([bundle.body.reissue, bundle.body.enabledBackend], [true, 'ca-2']);
    const issued = await cp.issue('gone-1', { bundleVersion: bundle.body.bundleVersion });
    assert.equal(issued.issuedBackend, 'ca-2');
    assert.ok(Date.parse(issued.notAfter) > Date.now());
    assert.equal((await cp.status()).activeDataplanes, 3);
    assert.equal((await cp.dryRunThenPut(STEP[3])).status, 200);
  });
});

describe('?force=true', () => {
  let cp: Cp;
  before(async () => {
    cp = await cpAtStep0('web-1', 'web-2');
    assert.equal((await cp.putMesh(STEP[1])).status, 200);
  });
  after(() => cp.close());

  it('a forced dry run passes, writes nothing and logs nothing', async () => {
    const before = await cp.snapshot();
    assert.equal((await cp.putMesh(STEP[2], '?dryRun=true&force=true')).status, 200);
    assert.deepEqual(await cp.snapshot(), before);
    assert.deepEqual(cp.warnings(), []);
  });

  it('structural checks still apply', async () => {
    const bad = STEP[2].replace('enabledBackend: ca-2', 'enabledBackend: ca-9');
    const answer = await cp.putMesh(bad, '?force=true');
    assert.equal(answer.status, 400);
    assert.equal(answer.body.invalid_parameters[0].field, 'mtls.enabledBackend');
  });

  it('skips rules 1-3 and logs a warning naming what it skipped', async () => {
    assert.equal((await cp.putMesh(STEP[2])).status, 409);
    assert.deepEqual(await cp.putMesh(STEP[2], '?force=true'), { status: 200, body: {}, retryAfter: undefined });
    assert.equal((await cp.call('GET', '/meshes/default')).body.mtls.enabledBackend, 'ca-2');
    const warnings = cp.warnings();
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0].mesh, 'default');
    assert.match(warnings[0].msg, /force=true/);
    assert.match(
      JSON.stringify(warnings[0].skippedRules),
      /enable: cannot enable backend \\"ca-2\\" yet: 2 active dataplanes/,
    );
  });

  it('needs an admin: a dataplane token cannot force', async () => {
    const res = await cp.t.app.inject({
      method: 'PUT',
      url: '/meshes/default?force=true',
      headers: {
        authorization: `Bearer ${(await cp.call('POST', '/tokens/dataplane', { name: 'web-1', mesh: 'default' })).body}`,
        ...YAML_TYPE,
      },
      payload: STEP[3],
    });
    assert.equal(res.statusCode, 403);
    assert.equal((await cp.call('GET', '/meshes/default')).body.mtls.backends.length, 2);
  });
});

describe('secrets used by a backend', () => {
  let cp: Cp;
  before(async () => {
    cp = await cpAtStep0('web-1');
    assert.equal((await cp.putMesh(STEP[1])).status, 200);
  });
  after(() => cp.close());

  it("deleting one is 400 with Kuma's message (dry run identical, nothing deleted)", async () => {
    const dry = await cp.call('DELETE', '/meshes/default/secrets/ca-2-cert?dryRun=true');
    const real = await cp.call('DELETE', '/meshes/default/secrets/ca-2-cert');
    assert.deepEqual(dry, real);
    assert.equal(real.status, 400);
    assert.equal(real.body.title, 'Could not delete a resource');
    assert.equal(real.body.detail, 'Resource is not valid');
    assert.deepEqual(real.body.invalid_parameters, [
      {
        field: 'name',
        reason:
          'The secret "ca-2-cert" that you are trying to remove is currently in use in Mesh "default" in mTLS backend "ca-2". Please remove the reference from the "ca-2" backend before removing the secret.',
      },
    ]);
    assert.equal((await cp.call('GET', '/meshes/default/secrets/ca-2-cert')).status, 200);
    // The builtin CA's secrets are in use by ca-1 the same way.
    const builtinKey = await cp.call('DELETE', '/meshes/default/secrets/default.ca-builtin-key-ca-1');
    assert.equal(builtinKey.status, 400);
    assert.match(builtinKey.body.invalid_parameters[0].reason, /in mTLS backend "ca-1"/);
  });

  it('replacing its data is 409; sending the same data again is fine', async () => {
    const rotationBefore = await cp.status();
    const [dryCert] = await cp.putCaSecrets('ca-2', ca3, '?dryRun=true');
    const replaced = await cp.call('PUT', '/meshes/default/secrets/ca-2-cert', {
      type: 'Secret',
      mesh: 'default',
      name: 'ca-2-cert',
      data: Buffer.from(ca3.certPem).toString('base64'),
    });
    assert.deepEqual(dryCert, replaced);
    assert.equal(replaced.status, 409);
    assert.equal(replaced.body.invalid_parameters[0].field, 'data');
    assert.match(
      replaced.body.invalid_parameters[0].reason,
      /The secret "ca-2-cert" is used in Mesh "default" by mTLS backend "ca-2"/,
    );
    assert.deepEqual((await cp.status()).backends, rotationBefore.backends, 'ca-2 is still the same root');
    assert.deepEqual(
      (await cp.putCaSecrets('ca-2', ca2)).map((a) => a.status),
      [200, 200],
    );
  });

  it('once no backend uses it, it can be deleted', async () => {
    assert.equal((await cp.putMesh(STEP[0])).status, 200, 'undoing step 1 passes: nobody holds a ca-2 certificate');
    assert.equal((await cp.call('DELETE', '/meshes/default/secrets/ca-2-cert')).status, 200);
  });
});

describe('deleting a Dataplane forgets its facts', () => {
  let cp: Cp;
  before(async () => {
    cp = await cpAtStep0('web-1', 'web-2', 'api-1');
    assert.equal((await cp.putMesh(STEP[1])).status, 200);
    await cp.acknowledge('web-1', 'api-1');
  });
  after(() => cp.close());

  it('a dry-run delete keeps it blocking; the real delete unblocks step 2', async () => {
    assert.deepEqual(namesIn(conflictAt(await cp.putMesh(STEP[2], '?dryRun=true'), 'mtls.enabledBackend')), ['web-2']);
    assert.deepEqual(await cp.call('DELETE', '/meshes/default/dataplanes/web-2?dryRun=true'), {
      status: 200,
      body: {},
      retryAfter: undefined,
    });
    assert.equal((await cp.status()).nextStep.waitingFor.count, 1);
    assert.equal((await cp.call('DELETE', '/meshes/default/dataplanes/web-2')).status, 200);
    assert.equal(await cp.t.services.facts.get('default', 'web-2'), undefined);
    assert.equal((await assertStatusAgreesWithPut(cp, STEP[2])).nextStep.ready, true);
    assert.equal((await cp.dryRunThenPut(STEP[2])).status, 200);
  });

  it('and unblocks step 3 the same way', async () => {
    await cp.issue('web-1');
    assert.deepEqual(namesIn(conflictAt(await cp.putMesh(STEP[3], '?dryRun=true'), 'mtls.backends')), ['api-1']);
    assert.equal((await cp.call('DELETE', '/meshes/default/dataplanes/api-1')).status, 200);
    assert.equal((await assertStatusAgreesWithPut(cp, STEP[3])).nextStep.ready, true);
    assert.equal((await cp.dryRunThenPut(STEP[3])).status, 200);
  });
});

describe('two PUTs at once cannot both pass a rule that only one may', () => {
  it('adding ca-2 twice with different material: one wins, the other is a replace in place (409)', async () => {
    const cp = await cpAtStep0('web-1');
    try {
      await cp.putCaSecrets('ca-3', ca3);
      const viaCa3 = STEP[1].replace(/ca-2-cert/, 'ca-3-cert').replace(/ca-2-key/, 'ca-3-key');
      const answers = await Promise.all([cp.putMesh(STEP[1]), cp.putMesh(viaCa3)]);
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409], JSON.stringify(answers));
      const loser = answers.find((a) => a.status === 409)!;
      assert.match(conflictAt(loser, 'mtls.backends[1]'), /backend "ca-2" cannot change its type or conf/);
      const winnerSecret = answers[0].status === 200 ? 'ca-2-cert' : 'ca-3-cert';
      const stored = (await cp.call('GET', '/meshes/default')).body;
      assert.equal(stored.mtls.backends[1].conf.cert.secret, winnerSecret);
    } finally {
      await cp.close();
    }
  });

  it('adding a builtin ca-2 twice with different caCert (slow key generation in between): exactly one CA, matching the stored conf', async () => {
    // Key generation that takes a while, as a real one does: both PUTs are preparing their CA when the first commits.
    const cp = await cpAtStep0With(slowPooledRsaKeys(20), 'web-1');
    try {
      const addBuiltin = (years: number) =>
        STEP[0] + `  - name: ca-2\n    type: builtin\n    conf:\n      caCert:\n        expiration: ${years}y\n`;
      const answers = await Promise.all([cp.putMesh(addBuiltin(5)), cp.putMesh(addBuiltin(7))]);
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409], JSON.stringify(answers));
      assert.match(
        conflictAt(answers.find((a) => a.status === 409)!, 'mtls.backends[1]'),
        /the CA of builtin backend "ca-2" already exists/,
      );
      const stored = (await cp.call('GET', '/meshes/default')).body;
      const years = parseInt(stored.mtls.backends[1].conf.caCert.expiration, 10);
      assert.equal(years, answers[0].status === 200 ? 5 : 7);
      const secret = (await cp.call('GET', '/meshes/default/secrets/default.ca-builtin-cert-ca-2')).body;
      const caNotAfter = Date.parse(new X509Certificate(Buffer.from(secret.data, 'base64')).validTo);
      const expected = Date.now() + years * 365 * 86_400_000;
      assert.ok(Math.abs(caNotAfter - expected) < 3 * 86_400_000, `the stored CA is the winner's (${years}y)`);
    } finally {
      await cp.close();
    }
  });

  it('step 1 and step 2 at once: step 2 never passes, whichever commits first', async () => {
    const cp = await cpAtStep0('web-1', 'web-2');
    try {
      const [two, one] = await Promise.all([cp.putMesh(STEP[2]), cp.putMesh(STEP[1])]);
      assert.equal(one.status, 200);
      assert.equal(two.status, 409);
      assert.equal(two.body.invalid_parameters[0].field, 'mtls.enabledBackend');
      assert.equal((await cp.call('GET', '/meshes/default')).body.mtls.enabledBackend, 'ca-1');
    } finally {
      await cp.close();
    }
  });

  it('step 2 and step 3 at once right after step 1 (all trusting, none re-issued): only step 2 passes', async () => {
    const cp = await cpAtStep0('web-1', 'web-2');
    try {
      assert.equal((await cp.putMesh(STEP[1])).status, 200);
      await cp.acknowledge('web-1', 'web-2');
      const [two, three] = await Promise.all([cp.putMesh(STEP[2]), cp.putMesh(STEP[3])]);
      assert.equal(two.status, 200);
      assert.equal(three.status, 409);
      assert.ok(
        three.body.invalid_parameters.some((p: any) => p.field === 'mtls.backends'),
        JSON.stringify(three.body),
      );
      assert.deepEqual(
        (await cp.call('GET', '/meshes/default')).body.mtls.backends.map((b: any) => b.name),
        ['ca-1', 'ca-2'],
      );
    } finally {
      await cp.close();
    }
  });
});

describe('acknowledgements: the latest word of a dataplane counts', () => {
  it('a long-poll ended by a newer poll of the same dataplane does not re-acknowledge its older version', async () => {
    const cp = await cpAtStep0('web-1');
    try {
      const bundleUrl = '/meshes/default/dataplanes/web-1/trust-bundle';
      const v0 = (await cp.call('GET', bundleUrl)).body.bundleVersion;
      assert.equal((await cp.putMesh(STEP[1])).status, 200);
      const v1 = (await cp.call('GET', bundleUrl)).body.bundleVersion;
      assert.notEqual(v0, v1);
      // web-1 acknowledges the bundle with ca-2 and waits for the next change...
      const waiting = cp.asDataplane('web-1', 'GET', `${bundleUrl}?wait=20s`, undefined, {
        'if-none-match': `"${v1}"`,
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await cp.status()).nextStep.ready, true);
      // ... then (say, restarted from an old bundle file) it says it holds the ca-1-only bundle. That poll ends the
      // older one, which must not write its own, older statement back over this one.
      const restarted = await cp.asDataplane('web-1', 'GET', `${bundleUrl}?wait=20s`, undefined, {
        'if-none-match': `"${v0}"`,
      });
      assert.equal(restarted.status, 200, 'the held bundle is not current: the current one is sent at once');
      assert.equal((await waiting).status, 304);
      const status = await assertStatusAgreesWithPut(cp, STEP[2]);
      assert.deepEqual([status.nextStep.ready, status.nextStep.waitingFor.names], [false, ['web-1']]);
      assert.deepEqual(
        (await cp.call('GET', '/meshes/default/dataplanes/web-1/_overview')).body.dataplaneInsight.mTLS
          .supportedBackends,
        ['ca-1'],
      );
    } finally {
      await cp.close();
    }
  });
});
