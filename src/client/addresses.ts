/**
 * The control-plane addresses a client may use, in order, and the one it uses now. Every instance of an HA control
 * plane serves the same database, so any of them will do: a client stays on the current address as long as it
 * answers, and `advance` moves on only when it stops answering. A recovered earlier address is not preferred again,
 * so a client never flaps between instances.
 */

/** `host:port` (no scheme) means http://host:port, as kumactl users type it; a trailing slash is dropped. */
export function normalizeAddress(address: string): string {
  const trimmed = address.trim().replace(/\/+$/, '');
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
}

/**
 * Addresses from flags, variables or a config file: each value may hold several, comma separated
 * (`--cp-address a,b`, a repeated flag, `MESHCP_ADDRESS=a,b`). Normalized, duplicates dropped, order kept.
 */
export function parseAddressList(values: string | readonly string[]): string[] {
  const all = (typeof values === 'string' ? [values] : values)
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '')
    .map(normalizeAddress);
  if (all.length === 0) throw new Error('no control-plane address given');
  for (const address of all) {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw new Error(
        `"${address}" is not a control-plane address (expected a URL such as http://cp.example.com:5681)`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`control plane address must be an http:// or https:// URL, got "${address}"`);
    }
  }
  return [...new Set(all)];
}

/** A move from one address to the next, and why the first one was left. */
export interface AddressSwitch {
  from: string;
  to: string;
  reason: string;
}

export class AddressList {
  readonly addresses: readonly string[];
  private index = 0;

  /** `onSwitch` hears of every move once (the agent logs it, meshctl --verbose prints it). */
  constructor(
    addresses: readonly string[],
    private readonly onSwitch?: (move: AddressSwitch) => void,
  ) {
    if (addresses.length === 0) throw new Error('no control-plane address given');
    this.addresses = [...addresses];
  }

  get current(): string {
    return this.addresses[this.index];
  }

  get size(): number {
    return this.addresses.length;
  }

  /**
   * `failed` stopped answering: the next address (after the last, the first again) becomes current. When `failed`
   * is no longer current — another request already moved on from it — nothing changes, so two requests failing on
   * the same address skip one instance, not two.
   */
  advance(failed: string, reason: string): void {
    if (this.addresses.length < 2 || this.current !== failed) return;
    this.index = (this.index + 1) % this.addresses.length;
    this.onSwitch?.({ from: failed, to: this.current, reason });
  }
}
