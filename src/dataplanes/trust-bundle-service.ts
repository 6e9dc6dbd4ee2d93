import type { CaManager, MeshCaState } from '../ca/ca-manager.js';
import type { MeshEvents } from '../mesh-events.js';
import { dataplaneSpiffeUris, type Dataplane } from '../resources/dataplane.js';
import type { FactsStore } from '../store/facts-store.js';
import { identityOf, requireMeshCa } from './certificate-service.js';
import type { DataplaneService } from './dataplane-service.js';

export const MAX_WAIT_MS = 60_000;

export interface TrustBundle {
  caBundle: string;
  bundleVersion: string;
  supportedBackends: string[];
  enabledBackend: string;
  reissue: boolean;
}

export type TrustBundleAnswer = { status: 200; bundle: TrustBundle } | { status: 304; bundleVersion: string };

/** The trust bundle endpoint: acknowledgement by If-None-Match, 304 when current, long-poll until it changes. */
export class TrustBundleService {
  constructor(
    private readonly dataplanes: DataplaneService,
    private readonly ca: CaManager,
    private readonly facts: FactsStore,
    private readonly events: MeshEvents,
  ) {}

  /**
   * `fromDataplane`: the caller is the dataplane itself. Only then is `heldVersion` an acknowledgement (and the
   * call a sign of life): an operator's curl must not make the CP believe a proxy trusts a root.
   */
  async get(
    mesh: string,
    name: string,
    heldVersion: string | undefined,
    waitMs: number,
    options: { fromDataplane: boolean; signal?: AbortSignal },
  ): Promise<TrustBundleAnswer> {
    const signal = options.signal;
    const deadline = Date.now() + Math.min(waitMs, MAX_WAIT_MS);
    for (let arrived = true; ; arrived = false) {
      const dp = this.dataplanes.get(mesh, name).spec as Dataplane;
      const state = requireMeshCa(this.ca, mesh);
      const now = Date.now();
      // Acknowledge once, as the request arrives: after a wait, a newer poll of the same dataplane (which ended this
      // one) may have said it holds another bundle, and this older word must not overwrite it.
      if (options.fromDataplane && arrived) {
        if (heldVersion !== undefined) this.facts.acknowledge(mesh, name, heldVersion, now);
        else this.facts.touch(mesh, name, now);
      }
      // A held current bundle gets a 304, unless the certificate is due: then the body says `reissue: true`.
      if (heldVersion !== state.bundleVersion || this.needsReissue(mesh, name, dp, state, now)) {
        return { status: 200, bundle: this.bundleFor(mesh, name, dp, state, now) };
      }
      const remaining = deadline - now;
      if (remaining <= 0 || signal?.aborted) return { status: 304, bundleVersion: state.bundleVersion };
      // Wake at renewAfter too, so a waiting dataplane hears `reissue: true` when its certificate is due.
      const renewAfter = this.facts.get(mesh, name)?.renewAfter;
      const untilRenewal = renewAfter ? Math.max(0, renewAfter - now) + 1 : remaining;
      await this.events.waitForChange(mesh, Math.min(remaining, untilRenewal), signal);
    }
  }

  private bundleFor(mesh: string, name: string, dp: Dataplane, state: MeshCaState, now: number): TrustBundle {
    return {
      caBundle: state.bundlePem,
      bundleVersion: state.bundleVersion,
      supportedBackends: state.supportedBackends,
      enabledBackend: state.enabled.name,
      reissue: this.needsReissue(mesh, name, dp, state, now),
    };
  }

  /** Re-issue when the certificate is missing, expired, past renewAfter, from another backend, or for other SANs. */
  needsReissue(mesh: string, name: string, dp: Dataplane, state: MeshCaState, now: number): boolean {
    const facts = this.facts.get(mesh, name);
    if (!facts?.issuedBackend || facts.certNotAfter <= now) return true;
    if (facts.issuedBackend !== state.enabled.name) return true;
    if (facts.renewAfter !== null && now >= facts.renewAfter) return true;
    return facts.identity !== identityOf(dataplaneSpiffeUris(mesh, dp));
  }
}
