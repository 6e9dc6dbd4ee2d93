import type { Clock } from '../../src/domain/clock.js';

interface Timer {
  due: number;
  seq: number;
  fire: () => void;
}

/**
 * A clock that moves only when a test says so. `advance()` fires the timers that fall due in order, letting the
 * promises they settle run between them, so code waiting on the clock (long-polls, renewals) reacts as it would
 * after real time passed, without the test waiting for it.
 */
export class FakeClock implements Clock {
  private timers: Timer[] = [];
  private seq = 0;

  /** Starts at the real time: certificates it dates are checked by openssl and TLS against the wall clock. */
  constructor(private current = Date.now()) {}

  now(): number {
    return this.current;
  }

  schedule(fire: () => void, ms: number): () => void {
    const timer = { due: this.current + Math.max(0, ms), seq: this.seq++, fire };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** How many timers are armed (a test can wait until the code under test has started waiting). */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((t) => t.due <= target).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.due);
      next.fire();
    }
    this.current = target;
    await settle();
  }

  /** Resolves once the code under test has armed at least `count` timers (it is waiting on this clock). */
  async waitForTimers(count = 1): Promise<void> {
    const giveUpAt = Date.now() + 10_000; // real time: a bound on a broken test, not something it waits for
    while (this.timers.length < count) {
      if (Date.now() > giveUpAt) throw new Error(`no ${count} timer(s) armed on the fake clock`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

/** Lets pending promise callbacks and I/O callbacks of this turn run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}
