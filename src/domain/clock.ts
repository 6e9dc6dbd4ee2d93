/**
 * Time as the control plane and the agent see it. Everything that decides by time (certificate validity, token
 * expiry, long-poll deadlines, rate budgets, online windows, renewal) reads this instead of the wall clock, so tests
 * drive a fake clock and never wait for real seconds to pass.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fire` once `ms` of this clock's time has passed; the returned function cancels it. */
  schedule(fire: () => void, ms: number, options?: { keepAlive?: boolean }): () => void;
}

/**
 * How far back a certificate's notBefore is set, so a peer whose clock runs a little behind already accepts it
 * (dataplane leaves and builtin roots alike).
 */
export const CLOCK_SKEW_MS = 10_000;

/** Node's timers hold at most 2^31-1 ms; longer delays are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The one read of the wall clock in the code base. */
const wallNow = () => Date.now();

/**
 * The wall clock, with Node's timers. They are ref'd as a plain setTimeout (a waiting agent keeps its process
 * alive) unless `keepAlive` is false (a far-off renewal must not hold a stopped program open).
 */
export const systemClock: Clock = {
  now: wallNow,
  schedule(fire, ms, options) {
    const due = wallNow() + ms;
    let timer: NodeJS.Timeout;
    const arm = (delay: number) => {
      timer = setTimeout(
        () => {
          const left = due - wallNow();
          if (left <= 0) fire();
          else arm(left);
        },
        Math.min(Math.max(0, delay), MAX_TIMER_MS),
      );
      if (options?.keepAlive === false) timer.unref();
    };
    arm(ms);
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` of `clock` time, or at once (without throwing) when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.schedule(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
