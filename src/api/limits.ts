import { ApiError } from '../errors.js';

function tooManyRequests(detail: string, retryAfterSeconds: number): ApiError {
  return new ApiError({
    status: 429,
    title: 'Too Many Requests',
    detail,
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
}

/**
 * A per-key fixed budget per minute (sliding window of issue times). Used for certificate requests made with a
 * dataplane token, so one stuck or hostile proxy cannot keep the CA busy; admins are not limited.
 */
export class PerMinuteLimiter {
  private readonly recent = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string, what: string): void {
    const now = this.now();
    const windowStart = now - 60_000;
    const times = (this.recent.get(key) ?? []).filter((t) => t > windowStart);
    if (times.length >= this.perMinute) {
      this.recent.set(key, times);
      const retryAfter = Math.max(1, Math.ceil((times[0] + 60_000 - now) / 1000));
      throw tooManyRequests(`${what}: at most ${this.perMinute} per minute, retry in ${retryAfter}s`, retryAfter);
    }
    times.push(now);
    this.recent.set(key, times);
  }
}

/**
 * Bounds waiting long-polls: at most `max` in the process, and one per dataplane (a new poll from the same
 * dataplane ends its previous one, which answers 304 at once).
 */
export class LongPollGate {
  private readonly waiting = new Map<string, AbortController>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.waiting.size;
  }

  /** Ends every waiting poll (they answer 304 at once): used on shutdown, so no client waits out its poll. */
  endAll(): void {
    for (const controller of this.waiting.values()) controller.abort();
    this.waiting.clear();
  }

  /** Returns a signal for the wait and a release function; throws 429 when the process-wide bound is reached. */
  enter(key: string, clientGone: AbortSignal): { signal: AbortSignal; release: () => void } {
    this.waiting.get(key)?.abort();
    this.waiting.delete(key);
    if (this.waiting.size >= this.max) {
      throw tooManyRequests(`too many waiting trust-bundle polls (${this.max}); retry shortly`, 5);
    }
    const controller = new AbortController();
    clientGone.addEventListener('abort', () => controller.abort(), { once: true });
    this.waiting.set(key, controller);
    return {
      signal: controller.signal,
      release: () => {
        if (this.waiting.get(key) === controller) this.waiting.delete(key);
      },
    };
  }
}
