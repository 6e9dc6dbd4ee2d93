// Control-plane processes on one PostgreSQL database (issue 14), for the HA end-to-end tests: the schema migrated once
// with `migrate up`, then every instance started with the same secrets key, and an operator's HTTP client that
// moves to the next address when one does not answer and retries a step the control plane refuses with 409.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCpProcess, startCpProcess, type CpProcess } from './cp-process.js';
import type { PgDatabase } from './postgres.js';

export interface Answer {
  status: number;
  body: any;
  /** The address that answered. */
  address: string;
}

/** What every instance of one deployment shares: the database and the secrets key (base64 of 32 bytes). */
export function sharedEnv(db: PgDatabase, secretsKey = randomBytes(32).toString('base64')): Record<string, string> {
  return { ...db.storeEnv(), MESHCP_SECRETS_KEY: secretsKey };
}

/** `meshcp migrate up` against the database, as an operator runs it once before starting the instances. */
export async function migrateUp(env: Record<string, string>): Promise<void> {
  const run = await runCpProcess(env, { command: ['migrate', 'up'] });
  assert.equal(run.code, 0, `migrate up failed: ${run.stderr}${run.stdout}`);
}

/** `count` instances started at the same moment (they race to create the default mesh, which must happen once). */
export async function startInstances(count: number, env: Record<string, string>): Promise<CpProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startCpProcess(env, 60_000)));
  const cps = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.allSettled(cps.map((cp) => cp.stop()));
    throw failed.reason;
  }
  return cps;
}

/** One request to one address, never hanging: a timeout is an error, as a refused connection is. */
export async function request(
  address: string,
  method: string,
  path: string,
  body?: object,
  timeoutMs = 10_000,
): Promise<Answer> {
  const res = await fetch(address + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((err: Error & { cause?: Error & { code?: string } }) => {
    // fetch's own message is only "fetch failed": say what happened (refused, reset, timed out).
    throw new Error(`${method} ${address}${path}: ${err.cause?.code ?? err.cause?.message ?? err.message}`, {
      cause: err,
    });
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: res.status, body: json ? JSON.parse(text) : text, address };
}

/**
 * An operator's client with a list of control-plane addresses: a request goes to the first that answers (a refused
 * or cut connection, a timeout or a 503 moves it to the next one, round and round until the deadline); a 409 (a
 * rotation step taken too soon) is retried after a moment when `retryConflicts`.
 */
export class FailoverClient {
  constructor(readonly addresses: string[]) {}

  async send(
    method: string,
    path: string,
    body?: object,
    options: { retryConflicts?: boolean; deadlineMs?: number } = {},
  ): Promise<Answer> {
    const deadline = Date.now() + (options.deadlineMs ?? 30_000);
    let lastProblem = '';
    for (let attempt = 0; ; attempt++) {
      const address = this.addresses[attempt % this.addresses.length];
      try {
        const answer = await request(address, method, path, body, 5_000);
        if (answer.status === 503) lastProblem = `${address}: 503 ${JSON.stringify(answer.body)}`;
        else if (answer.status === 409 && options.retryConflicts)
          lastProblem = `${address}: 409 ${JSON.stringify(answer.body)}`;
        else return answer;
      } catch (err) {
        lastProblem = `${address}: ${(err as Error).message}`;
      }
      if (Date.now() > deadline)
        throw new Error(`${method} ${path}: no control plane accepted it in time; last: ${lastProblem}`);
      // A dead address fails fast: only wait once every address was tried.
      if ((attempt + 1) % this.addresses.length === 0) await sleep(200);
    }
  }

  async get(path: string): Promise<any> {
    const answer = await this.send('GET', path);
    assert.equal(answer.status, 200, `GET ${path}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }
}
