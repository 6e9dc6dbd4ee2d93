import { EventEmitter } from 'node:events';
import type { Clock } from './domain/clock.js';
import { FleetTurns } from './fleet-turns.js';

/**
 * Tells in-memory caches and waiting long-polls that a mesh's CA view may have changed (a write to the mesh or one
 * of its secrets). Emitted only after the write transaction commits.
 */
export class MeshEvents {
  private readonly emitter = new EventEmitter();
  /** Waiting long-polls by mesh: a Set, so each of 10,000 waiters leaves in O(1) (an emitter's list is O(n)). */
  private readonly waiters = new Map<string, Set<() => void>>();

  /**
   * `turns`: the fleet's lane on the main thread. A rotation step wakes every long-poll of the mesh (10,000 on a
   * large fleet), and each woken poll runs its store reads and writes its answer when woken (SQLite answers
   * synchronously): woken all at once, they held the main thread for seconds. They start in the fleet's lane instead.
   */
  constructor(
    private readonly clock: Clock,
    private readonly turns: FleetTurns = new FleetTurns(),
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** `mesh` changed; '*': any mesh may have changed (another instance's notices were missed). */
  meshChanged(mesh: string): void {
    this.emitter.emit('changed', mesh);
    for (const name of mesh === '*' ? [...this.waiters.keys()] : [mesh]) {
      const waiting = this.waiters.get(name);
      if (!waiting) continue;
      this.waiters.delete(name); // a poll that waits again from now on waits for the next change
      for (const wake of waiting) this.turns.run(wake);
    }
  }

  onAnyChange(listener: (mesh: string) => void): void {
    this.emitter.on('changed', listener);
  }

  /** Resolves on the next change of `mesh`, or after `timeoutMs`; `signal` cancels the wait (client gone). */
  waitForChange(mesh: string, timeoutMs: number, signal?: AbortSignal): Promise<'changed' | 'timeout'> {
    return new Promise((resolve) => {
      let waiting = this.waiters.get(mesh);
      if (!waiting) this.waiters.set(mesh, (waiting = new Set()));
      const set = waiting;
      let settled = false;
      const finish = (result: 'changed' | 'timeout') => {
        if (settled) return;
        settled = true;
        cancelTimer();
        set.delete(onChange);
        if (set.size === 0 && this.waiters.get(mesh) === set) this.waiters.delete(mesh);
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onChange = () => finish('changed');
      const onAbort = () => finish('timeout');
      const cancelTimer = this.clock.schedule(() => finish('timeout'), timeoutMs);
      set.add(onChange);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
