import type { Clock } from '../domain/clock.js';

/**
 * What the control plane last heard from each vault backend, for `/ca-rotation`: whether Vault answered, and the
 * error when it did not. Keyed by mesh and backend; bounded because backends are operator-configured resources.
 */
export interface VaultContact {
  reachable: boolean;
  at: string;
  error?: string;
}

const MAX_ENTRIES = 10_000;

export class VaultHealth {
  private readonly contacts = new Map<string, VaultContact>();

  constructor(private readonly clock: Clock) {}

  /** `reachable`: Vault answered (even to refuse); `error`: why the last call failed, if it did. */
  record(mesh: string, backend: string, reachable: boolean, error?: string): void {
    const key = `${mesh}\n${backend}`;
    this.contacts.delete(key);
    if (this.contacts.size >= MAX_ENTRIES) this.contacts.delete(this.contacts.keys().next().value!);
    this.contacts.set(key, { reachable, at: new Date(this.clock.now()).toISOString(), ...(error ? { error } : {}) });
  }

  lastContact(mesh: string, backend: string): VaultContact | undefined {
    return this.contacts.get(`${mesh}\n${backend}`);
  }
}
