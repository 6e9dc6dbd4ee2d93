import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from './domain/clock.js';

/**
 * Tells in-memory caches and waiting long-polls that a mesh's CA view may have changed (a write to the mesh or one
 * of its secrets). Emitted only after the write transaction commits.
 */
export class MeshEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly clock: Clock = systemClock) {
    this.emitter.setMaxListeners(0);
  }

  /** `mesh` changed; '*': any mesh may have changed (another instance's notices were missed). */
  meshChanged(mesh: string): void {
    this.emitter.emit('changed', mesh);
    if (mesh !== '*') {
      this.emitter.emit(`changed:${mesh}`);
      return;
    }
    for (const event of this.emitter.eventNames()) {
      if (typeof event === 'string' && event.startsWith('changed:')) this.emitter.emit(event);
    }
  }

  onAnyChange(listener: (mesh: string) => void): void {
    this.emitter.on('changed', listener);
  }

  /** Resolves on the next change of `mesh`, or after `timeoutMs`; `signal` cancels the wait (client gone). */
  waitForChange(mesh: string, timeoutMs: number, signal?: AbortSignal): Promise<'changed' | 'timeout'> {
    return new Promise((resolve) => {
      const event = `changed:${mesh}`;
      const finish = (result: 'changed' | 'timeout') => {
        cancelTimer();
        this.emitter.off(event, onChange);
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onChange = () => finish('changed');
      const onAbort = () => finish('timeout');
      const cancelTimer = this.clock.schedule(() => finish('timeout'), timeoutMs);
      this.emitter.on(event, onChange);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
