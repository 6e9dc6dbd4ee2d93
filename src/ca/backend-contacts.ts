import type { Clock } from '../domain/clock.js';

/**
 * What the control plane last heard from each backend whose CA is remote (vault), for `/ca-rotation`: whether it
 * answered, and the error when it did not. Keyed by mesh and backend; bounded because backends are
 * operator-configured resources.
 */
interface BackendContact {
  reachable: boolean;
  at: string;
  error?: string;
}

const MAX_ENTRIES = 10_000;

export class BackendContacts {
  private readonly contacts = new Map<string, BackendContact>();

  constructor(private readonly clock: Clock) {}

  /** `reachable`: the remote CA answered (even to refuse); `error`: why the last call failed, if it did. */
  record(mesh: string, backend: string, reachable: boolean, error?: string): void {
    const key = `${mesh}\n${backend}`;
    this.contacts.delete(key);
    if (this.contacts.size >= MAX_ENTRIES) this.contacts.delete(this.contacts.keys().next().value!);
    this.contacts.set(key, { reachable, at: new Date(this.clock.now()).toISOString(), ...(error ? { error } : {}) });
  }

  lastContact(mesh: string, backend: string): BackendContact | undefined {
    return this.contacts.get(`${mesh}\n${backend}`);
  }
}
