import { parentPort } from 'node:worker_threads';
import { signLeaf } from './leaf-signing.js';
import type { SigningJob, SigningReply } from './signing-pool.js';
import { loadCaSigner, type CaSigner } from '../x509/x509.js';

/**
 * A signing thread: keeps the CA signers it was sent (parsed once) in a bounded least-recently-used cache, and asks
 * for the material again (`signerMissing`) when a job names a signer it no longer holds.
 */
const signers = new Map<string, CaSigner>();
const MAX_SIGNERS = 32;

function signerFor(job: SigningJob): CaSigner | undefined {
  let signer = signers.get(job.signerId);
  if (signer) {
    signers.delete(job.signerId); // re-inserted below: most recently used last
  } else {
    if (!job.material) return undefined;
    signer = loadCaSigner(job.material.chainPem, job.material.keyPem);
    if (signers.size >= MAX_SIGNERS) signers.delete(signers.keys().next().value!);
  }
  signers.set(job.signerId, signer);
  return signer;
}

function handle(job: SigningJob): SigningReply {
  try {
    const signer = signerFor(job);
    return signer ? { id: job.id, result: signLeaf(signer, job.request) } : { id: job.id, signerMissing: true };
  } catch (err) {
    return { id: job.id, failure: (err as Error).message };
  }
}

/** One job, or the jobs of one of the pool's event-loop turns (answered together, in one message). */
parentPort!.on('message', (message: SigningJob | SigningJob[]) => {
  parentPort!.postMessage(Array.isArray(message) ? message.map(handle) : handle(message));
});
