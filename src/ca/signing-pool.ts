import { Worker } from 'node:worker_threads';
import { signLeaf, type LeafRequest, type LeafResult } from './leaf-signing.js';
import type { CaSigner } from '../x509/x509.js';
import { systemClock } from '../domain/clock.js';

export interface SignerMaterial {
  chainPem: string;
  keyPem: string;
}

export interface SigningJob {
  id: number;
  signerId: string;
  /** Sent when the pool has not given this signer to the worker yet, or the worker answered `signerMissing`. */
  material?: SignerMaterial;
  request: LeafRequest;
}

export interface SigningReply {
  id: number;
  result?: LeafResult;
  /** The worker does not hold the signer (never sent, or evicted from its bounded cache): send the material. */
  signerMissing?: true;
  failure?: string;
}

/** Signing could not happen now (a worker crashed, hung or the pool is closing): the caller answers 503. */
export class SigningUnavailableError extends Error {}

/** How long `close()` waits for the workers to stop. */
const CLOSE_BOUND_MS = 2_000;

/** Without `dpCert.requestTimeout`, a job that has not come back in this long fails (a signature takes ~1 ms). */
const DEFAULT_SIGNING_TIMEOUT_MS = 10_000;

interface PendingJob {
  job: SigningJob;
  material: SignerMaterial;
  resolve: (r: LeafResult) => void;
  reject: (e: Error) => void;
  /** Cancels the job's deadline. */
  cancelDeadline: () => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, PendingJob>;
  /** Signers this worker was sent; the worker may have evicted some since, and then says `signerMissing`. */
  sent: Set<string>;
  /** Jobs to post at the end of this event-loop turn, as one message (see `post`). */
  outbox: SigningJob[];
}

type WorkerFactory = () => Worker;

/** Compiled (dist/*.js) the worker is plain JS; from source under tsx it needs tsx registered in the thread. */
function startSigningWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./signing-worker.js', import.meta.url));
  return new Worker(new URL('./signing-worker-entry.mjs', import.meta.url), {
    workerData: { module: new URL('./signing-worker.ts', import.meta.url).href },
  });
}

/**
 * Signs dataplane certificates on worker threads so every core works (CSR verification and signing are the CPU
 * of an issuance); the main thread keeps HTTP and the one SQLite connection. With 0 workers it signs inline.
 * A worker that dies or hangs is replaced; only the jobs it held fail, each with a SigningUnavailableError.
 */
export class SigningPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly startWorker: WorkerFactory = startSigningWorker,
  ) {}

  /** `inlineSigner` is used only when the pool has no workers. */
  async sign(
    signerId: string,
    material: SignerMaterial,
    inlineSigner: CaSigner,
    request: LeafRequest,
    timeoutMs = DEFAULT_SIGNING_TIMEOUT_MS,
  ): Promise<LeafResult> {
    if (this.size === 0) return signLeaf(inlineSigner, request);
    if (this.closed) throw new SigningUnavailableError('the signing pool is closed');
    this.fill();
    const target = this.workers.reduce((best, w) => (w.pending.size < best.pending.size ? w : best));
    const job: SigningJob = { id: this.nextId++, signerId, request };
    return new Promise<LeafResult>((resolve, reject) => {
      // Real time on purpose: a bound on a worker's work, which a test's fake clock must not stretch.
      const cancelDeadline = systemClock.schedule(() => this.timedOut(target, job.id, timeoutMs), timeoutMs, {
        keepAlive: false,
      });
      target.pending.set(job.id, { job, material, resolve, reject, cancelDeadline });
      this.post(target, job, material);
    });
  }

  /**
   * Fails every waiting job and stops the workers. Bounded: a worker terminated while it is still starting up can
   * take long to report its exit (seen once under load), and shutdown must never hang on it; the workers are unref'd,
   * so one that lingers does not keep the process alive.
   */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    for (const w of workers) this.failAll(w, 'the signing pool is closing');
    let cancelBound = () => {};
    const stopped = Promise.all(workers.map((w) => w.worker.terminate().catch(() => undefined)));
    await Promise.race([
      stopped,
      new Promise(
        (resolve) =>
          (cancelBound = systemClock.schedule(() => resolve(undefined), CLOSE_BOUND_MS, { keepAlive: false })),
      ),
    ]);
    cancelBound();
  }

  /**
   * Jobs of one event-loop turn go to a worker as one message (an array when there are several), and it answers them
   * in one: a message costs a wake-up and a structured clone on both threads, which under load was ~9% of the main
   * thread's time when every certificate had its own pair.
   */
  private post(target: PoolWorker, job: SigningJob, material: SignerMaterial): void {
    if (!target.sent.has(job.signerId)) {
      target.sent.add(job.signerId);
      job.material = material;
    }
    target.outbox.push(job);
    if (target.outbox.length === 1) setImmediate(() => this.send(target));
  }

  private send(target: PoolWorker): void {
    const jobs = target.outbox.filter((job) => target.pending.has(job.id)); // not timed out or failed meanwhile
    target.outbox = [];
    if (jobs.length === 0 || !this.workers.includes(target)) return; // a retired worker's jobs have failed already
    target.worker.postMessage(jobs.length === 1 ? jobs[0] : jobs);
  }

  private fill(): void {
    while (this.workers.length < this.size) this.workers.push(this.spawn());
  }

  private spawn(): PoolWorker {
    const entry: PoolWorker = { worker: this.startWorker(), pending: new Map(), sent: new Set(), outbox: [] };
    entry.worker.unref();
    entry.worker.on('message', (reply: SigningReply | SigningReply[]) => {
      if (!Array.isArray(reply)) return this.onReply(entry, reply);
      for (const one of reply) this.onReply(entry, one);
    });
    entry.worker.on('error', (err) => this.retire(entry, `a signing worker failed: ${err.message}`));
    entry.worker.on('exit', (code) => this.retire(entry, `a signing worker exited (code ${code})`));
    return entry;
  }

  private onReply(entry: PoolWorker, reply: SigningReply): void {
    const pending = entry.pending.get(reply.id);
    if (!pending) return; // timed out meanwhile
    if (reply.signerMissing) {
      entry.sent.delete(pending.job.signerId);
      if (pending.job.material)
        return this.settle(entry, reply.id, new Error('the signing worker refused the CA material'));
      return this.post(entry, pending.job, pending.material);
    }
    if (reply.result) this.settle(entry, reply.id, reply.result);
    else this.settle(entry, reply.id, new Error(`signing failed: ${reply.failure}`));
  }

  private settle(entry: PoolWorker, id: number, outcome: LeafResult | Error): void {
    const pending = entry.pending.get(id);
    if (!pending) return;
    entry.pending.delete(id);
    pending.cancelDeadline();
    if (outcome instanceof Error) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  /** A job that did not come back in time: the worker is presumed stuck and replaced (its other jobs fail too). */
  private timedOut(entry: PoolWorker, id: number, timeoutMs: number): void {
    if (!entry.pending.has(id)) return;
    this.retire(entry, `signing did not finish within ${timeoutMs} ms`);
    void entry.worker.terminate();
  }

  /** Takes a dead or stuck worker out of the pool; a replacement starts with the next job. */
  private retire(entry: PoolWorker, reason: string): void {
    const index = this.workers.indexOf(entry);
    if (index >= 0) this.workers.splice(index, 1);
    this.failAll(entry, reason);
  }

  private failAll(entry: PoolWorker, reason: string): void {
    for (const id of [...entry.pending.keys()]) this.settle(entry, id, new SigningUnavailableError(reason));
  }
}
