import { parentPort } from 'node:worker_threads';
import { signLeaf } from './leaf-signing.js';
import type { SigningJob, SigningReply } from './signing-pool.js';
import { loadCaSigner, type CaSigner } from './x509.js';

/** A signing thread: keeps the CA signers it was sent (parsed once) and signs leaves on request. */
const signers = new Map<string, CaSigner>();
const MAX_SIGNERS = 32;

parentPort!.on('message', (job: SigningJob) => {
  let reply: SigningReply;
  try {
    let signer = signers.get(job.signerId);
    if (!signer) {
      if (!job.material) throw new Error(`signer ${job.signerId} is not loaded`);
      signer = loadCaSigner(job.material.chainPem, job.material.keyPem);
      if (signers.size >= MAX_SIGNERS) signers.delete(signers.keys().next().value!);
      signers.set(job.signerId, signer);
    }
    reply = { id: job.id, result: signLeaf(signer, job.request) };
  } catch (err) {
    reply = { id: job.id, failure: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
