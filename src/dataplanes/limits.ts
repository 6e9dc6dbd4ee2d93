import { systemClock, type Clock } from '../domain/clock.js';
import { DomainError, tooManyRequests } from '../domain/errors.js';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A per-key budget of `perMinute` requests: a token bucket holding at most `perMinute`, refilled at `perMinute` per
 * minute. O(1) per request (a window of timestamps was O(requests in the last minute)). Keys are dataplanes with a
 * valid token; a key whose bucket has refilled is the same as an absent one, so such keys are swept out and the map
 * holds only dataplanes that asked within the last minute.
 */
export class PerMinuteLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private nextSweepAt = 0;

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock = systemClock,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  take(key: string, what: string): void {
    const now = this.clock.now();
    this.sweep(now);
    const perMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      throw tooManyRequests(`${what}: at most ${this.perMinute} per minute, retry in ${retryAfter}s`, retryAfter);
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
  }

  /** At most once a minute: drops buckets that have refilled (a full minute without a request). */
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + 60_000;
    for (const [key, bucket] of this.buckets) if (now - bucket.at >= 60_000) this.buckets.delete(key);
  }
}

/**
 * The reason every long-poll abort gives: a ready value, because `abort()` without one builds a DOMException with a
 * stack trace, and a rotation step ends thousands of polls (it was ~1% of the main thread in the fleet bench).
 */
export const POLL_ENDED = Object.freeze({ ended: 'the long-poll ended' });

/**
 * Bounds waiting long-polls: at most `max` in the process, and one per dataplane (a new poll from the same
 * dataplane ends its previous one, which answers 304 at once).
 */
export class LongPollGate {
  private readonly waiting = new Map<string, AbortController>();
  /** Polls that entered and have not finished answering (resolved by their release). */
  private readonly answering = new Set<Promise<void>>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.waiting.size;
  }

  /**
   * Ends every waiting poll (they answer 304 at once) and resolves when each has been released (answered, or its
   * client gone): used on shutdown, so no client waits out its poll and no answer is cut off by closing sockets.
   */
  async endAll(): Promise<void> {
    for (const controller of this.waiting.values()) controller.abort(POLL_ENDED);
    this.waiting.clear();
    await Promise.all(this.answering);
  }

  /** Returns a signal for the wait and a release function; throws 429 when the process-wide bound is reached. */
  enter(key: string, clientGone: AbortSignal): { signal: AbortSignal; release: () => void } {
    this.waiting.get(key)?.abort(POLL_ENDED);
    this.waiting.delete(key);
    if (this.waiting.size >= this.max) {
      throw tooManyRequests(`too many waiting trust-bundle polls (${this.max}); retry shortly`, 5);
    }
    const controller = new AbortController();
    clientGone.addEventListener('abort', () => controller.abort(POLL_ENDED), { once: true });
    this.waiting.set(key, controller);
    let answered!: () => void;
    const answering = new Promise<void>((resolve) => (answered = resolve));
    this.answering.add(answering);
    return {
      signal: controller.signal,
      release: () => {
        if (this.waiting.get(key) === controller) this.waiting.delete(key);
        this.answering.delete(answering);
        answered();
      },
    };
  }
}

/**
 * Admission control for certificate issuance: at most `max` issuances in progress at once; beyond it a request is
 * refused at once with 503 and Retry-After instead of queueing. When a rotation step asks 10,000 dataplanes to
 * re-issue, a queue of thousands of requests (each holding its body, CSR and a pending signature) only adds memory
 * and main-thread work ahead of the operator's requests, never throughput: the signers are busy either way. Refused
 * agents retry after the delay plus their own jitter, which spreads the burst.
 */
export class IssuanceAdmission {
  private inProgress = 0;

  constructor(
    private readonly max: number,
    private readonly retryAfterSeconds = 1,
  ) {}

  get size(): number {
    return this.inProgress;
  }

  /** Counts one issuance in; returns its release (call exactly once). Throws 503 when `max` are in progress. */
  enter(): () => void {
    if (this.inProgress >= this.max) {
      throw new DomainError({
        kind: 'unavailable',
        detail: `too many certificate requests in progress (${this.max}); retry shortly`,
        retryAfterSeconds: this.retryAfterSeconds,
      });
    }
    this.inProgress++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inProgress--;
    };
  }
}
