import { Worker } from 'node:worker_threads';
import { signLeaf, type LeafRequest, type LeafResult } from './leaf-signing.js';
import type { CaSigner } from './x509.js';

export interface SignerMaterial {
  chainPem: string;
  keyPem: string;
}

export interface SigningJob {
  id: number;
  signerId: string;
  /** Sent the first time a worker sees this signer. */
  material?: SignerMaterial;
  request: LeafRequest;
}

export interface SigningReply {
  id: number;
  result?: LeafResult;
  failure?: string;
}

interface PoolWorker {
  worker: Worker;
  inFlight: number;
  loaded: Set<string>;
}

/** Compiled (dist/*.js) the worker is plain JS; from source under tsx it needs tsx registered in the thread. */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./signing-worker.js', import.meta.url));
  return new Worker(new URL('./signing-worker-entry.mjs', import.meta.url), {
    workerData: { module: new URL('./signing-worker.ts', import.meta.url).href },
  });
}

/**
 * Signs dataplane certificates on worker threads so every core works (CSR verification and signing are the CPU
 * of an issuance); the main thread keeps HTTP and the one SQLite connection. With 0 workers it signs inline.
 */
export class SigningPool {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, { resolve: (r: LeafResult) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly size: number) {}

  /** `inlineSigner` is used only when the pool has no workers. */
  async sign(signerId: string, material: SignerMaterial, inlineSigner: CaSigner, request: LeafRequest): Promise<LeafResult> {
    if (this.closed) throw new Error('signing pool closed');
    if (this.size === 0) return signLeaf(inlineSigner, request);
    this.start();
    const target = this.workers.reduce((best, w) => (w.inFlight < best.inFlight ? w : best));
    const job: SigningJob = { id: this.nextId++, signerId, request };
    if (!target.loaded.has(signerId)) {
      job.material = material;
      target.loaded.add(signerId);
    }
    target.inFlight++;
    try {
      return await new Promise<LeafResult>((resolve, reject) => {
        this.pending.set(job.id, { resolve, reject });
        target.worker.postMessage(job);
      });
    } finally {
      target.inFlight--;
    }
  }

  /** Stops the workers; jobs still in flight fail, and later jobs are refused (no worker is started again). */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
    for (const { reject } of this.pending.values()) reject(new Error('signing pool closed'));
    this.pending.clear();
  }

  private start(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < this.size; i++) {
      const worker = startWorker();
      worker.unref();
      worker.on('message', (reply: SigningReply) => {
        const waiter = this.pending.get(reply.id);
        if (!waiter) return;
        this.pending.delete(reply.id);
        if (reply.result) waiter.resolve(reply.result);
        else waiter.reject(new Error(`signing failed: ${reply.failure}`));
      });
      worker.on('error', (err) => {
        for (const { reject } of this.pending.values()) reject(err);
        this.pending.clear();
      });
      this.workers.push({ worker, inFlight: 0, loaded: new Set() });
    }
  }
}
