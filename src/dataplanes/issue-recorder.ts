import { notFound, Titles } from '../domain/errors.js';
import type { IssueFacts } from '../store/facts-store.js';
import type { Store, StoreTx } from '../store/store.js';

/** The mesh CA changed between signing and recording: the caller signs again with the current CA. */
export class StaleIssue extends Error {}

/** Which CA state a certificate was signed under. */
export interface IssuedUnder {
  /** The bundle the certificate was issued with. */
  bundleVersion: string;
  /** The Mesh row version that bundle was built from. */
  meshVersion: number;
}

interface PendingIssue {
  mesh: string;
  name: string;
  issue: IssueFacts;
  under: IssuedUnder;
  /** A bundle version the dataplane acknowledged with its request. */
  acknowledged?: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Group commit for issued certificates: one transaction per event-loop turn instead of one per certificate (a WAL
 * commit cost ~220 µs of main-thread time per issuance). A certificate is answered only after its facts are
 * committed, and only if its CA is still current at commit time. The transaction holds a shared lock on each mesh
 * of the batch, and every mesh write an exclusive one: across instances, a rotation step either committed before
 * (then the Mesh row's version differs and the certificate is signed again) or runs after and counts it.
 * Writers on this instance whose rules read these facts (mesh PUTs) call `flush()` first, so they never wait for
 * the next turn.
 */
/**
 * The least time between two commits while certificates keep coming. A commit (BEGIN, the Mesh version read, COMMIT
 * writing the WAL) cost ~50 µs of main-thread time; with one signing worker the answers arrive one per event-loop turn,
 * so commits held one certificate each. Waiting at most this long after the previous commit lets a busy process put
 * several certificates in one; an idle one commits at once (the previous commit is older than this).
 */
export const MIN_COMMIT_GAP_MS = 2;

export class IssueRecorder {
  private pending: PendingIssue[] = [];
  private scheduled = false;
  /** performance.now() of the last commit's start: real elapsed time, a pacing bound only (not the domain clock). */
  private lastCommitAt = -Infinity;

  constructor(
    private readonly store: Store,
    /** Whether this instance still serves `bundleVersion` for the mesh (false once a change invalidated it). */
    private readonly servesBundle: (mesh: string, bundleVersion: string) => boolean,
  ) {}

  record(mesh: string, name: string, issue: IssueFacts, under: IssuedUnder, acknowledged?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ mesh, name, issue, under, acknowledged, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        const wait = this.lastCommitAt + MIN_COMMIT_GAP_MS - performance.now();
        if (wait <= 0) setImmediate(() => void this.flush());
        else setTimeout(() => void this.flush(), wait);
      }
    });
  }

  /** Commits everything pending in one transaction (never call it inside another transaction). */
  async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.lastCommitAt = performance.now();
    let outcomes: (Error | null)[];
    try {
      outcomes = await this.store.transaction((tx) => this.commit(tx, batch), {
        sharedMeshes: batch.map((item) => item.mesh),
      });
    } catch (err) {
      for (const item of batch) item.reject(err as Error);
      return;
    }
    batch.forEach((item, i) => (outcomes[i] ? item.reject(outcomes[i]!) : item.resolve()));
  }

  private async commit(tx: StoreTx, batch: PendingIssue[]): Promise<(Error | null)[]> {
    const meshVersions = new Map<string, number | undefined>();
    const outcomes: (Error | null)[] = [];
    for (const item of batch) {
      if (!meshVersions.has(item.mesh)) meshVersions.set(item.mesh, await tx.resources.version('Mesh', '', item.mesh));
      const current =
        meshVersions.get(item.mesh) === item.under.meshVersion &&
        this.servesBundle(item.mesh, item.under.bundleVersion);
      if (!current) outcomes.push(new StaleIssue());
      else if (!(await tx.resources.exists('Dataplane', item.mesh, item.name)))
        outcomes.push(notFound(Titles.retrieve));
      else {
        await tx.facts.recordIssue(item.mesh, item.name, item.issue);
        if (item.acknowledged) await tx.facts.acknowledge(item.mesh, item.name, item.acknowledged, item.issue.issuedAt);
        outcomes.push(null);
      }
    }
    return outcomes;
  }
}
