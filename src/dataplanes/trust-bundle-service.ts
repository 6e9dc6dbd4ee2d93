import type { CaManager, MeshCaState } from '../ca/ca-manager.js';
import type { IdentityService } from '../identity/identity-service.js';
import type { TrustBundle } from '../contract/dataplanes.js';
import type { Clock } from '../domain/clock.js';
import type { MeshEvents } from '../mesh-events.js';
import type { Dataplane } from '../resources/dataplane.js';
import { normalizeSerial, type DataplaneFacts, type FactsStore } from '../store/facts-store.js';
import { expectedUris, type CertProfile } from './cert-profile.js';
import { identityOf, requireMeshCa } from './certificate-service.js';
import type { DataplaneService } from './dataplane-rules.js';

const MAX_WAIT_MS = 60_000;

/** A 200 carries its body already serialized (`json`): the same few strings serve the whole fleet. */
type TrustBundleAnswer = { status: 200; bundle: TrustBundle; json: string } | { status: 304; bundleVersion: string };

/** The trust bundle endpoint: acknowledgement by If-None-Match, 304 when current, long-poll until it changes. */
export class TrustBundleService {
  /**
   * The answer's body per CA state (the cached state object of the mesh) and reissue hint: after a rotation step,
   * 10,000 woken polls answer the same bundle; serializing it once (not 10,000 times, ~3 KB each) keeps the burst
   * short and allocates one string, not one per poll. A new state is a new key; the old one is collected with it.
   */
  private readonly bodies = new WeakMap<
    MeshCaState,
    { reissue?: { bundle: TrustBundle; json: string }; current?: { bundle: TrustBundle; json: string } }
  >();

  constructor(
    private readonly dataplanes: DataplaneService,
    private readonly ca: CaManager,
    private readonly facts: FactsStore,
    private readonly events: MeshEvents,
    private readonly identities: IdentityService,
    private readonly certProfile: CertProfile = 'kuma',
    private readonly clock: Clock,
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
    /** `registered`: the Dataplane as the request's token check just read it (used on the first pass only). */
    options: {
      fromDataplane: boolean;
      servedSerial?: string;
      signal?: AbortSignal;
      registered?: { spec: unknown; labels?: Record<string, string> };
    },
  ): Promise<TrustBundleAnswer> {
    const signal = options.signal;
    const deadline = this.clock.now() + Math.min(waitMs, MAX_WAIT_MS);
    for (let arrived = true; ; arrived = false) {
      const stored =
        (arrived && options.registered?.labels && options.registered) || (await this.dataplanes.get(mesh, name));
      const dp = stored.spec as Dataplane;
      const state = await requireMeshCa(this.ca, mesh);
      const issuer = await this.identities.issuerFor(state, mesh, { name, labels: stored.labels ?? {} });
      const now = this.clock.now();
      // One read of the facts per pass: they decide the reissue hint and when to wake for renewal (what the
      // acknowledgement below writes — contact, acknowledged bundle, served serial — decides neither).
      const known = await this.facts.get(mesh, name, { withTrusted: false });
      // Acknowledge once, as the request arrives: after a wait, a newer poll of the same dataplane (which ended this
      // one) may have said it holds another bundle, and this older word must not overwrite it. Writes that would
      // change nothing are skipped: most polls repeat the recorded bundle and served serial (in a rotation step's
      // storm every answered poll comes straight back within milliseconds), and contact is kept to the second.
      if (options.fromDataplane && arrived) {
        if (heldVersion !== undefined && heldVersion !== known?.ackedBundleVersion)
          await this.facts.acknowledge(mesh, name, heldVersion, now);
        else if (!contactIsRecent(known, now)) await this.facts.touch(mesh, name, now);
        if (options.servedSerial !== undefined && !servedIsRecorded(known, options.servedSerial)) {
          await this.facts.reportServed(mesh, name, options.servedSerial);
        }
      }
      const expected =
        issuer.kind === 'identity'
          ? { backend: issuer.kri, uris: [issuer.spiffeId] }
          : issuer.kind === 'legacy'
            ? { backend: state.enabled!.name, uris: expectedUris(this.certProfile, mesh, dp) }
            : undefined;
      // No certificate is possible (409 with the reason on request): asking for one would only loop.
      const reissue = expected !== undefined && needsReissue(known, expected, now);
      // A held current bundle gets a 304, unless the certificate is due: then the body says `reissue: true`.
      if (heldVersion !== state.bundleVersion || reissue) {
        return { status: 200, ...this.bodyOf(state, reissue) };
      }
      const remaining = deadline - now;
      if (remaining <= 0 || signal?.aborted) return { status: 304, bundleVersion: state.bundleVersion };
      // Wake at renewAfter too, so a waiting dataplane hears `reissue: true` when its certificate is due.
      const untilRenewal = known?.renewAfter ? Math.max(0, known.renewAfter - now) + 1 : remaining;
      await this.events.waitForChange(mesh, Math.min(remaining, untilRenewal), signal);
    }
  }

  private bodyOf(state: MeshCaState, reissue: boolean): { bundle: TrustBundle; json: string } {
    let bodies = this.bodies.get(state);
    if (!bodies) this.bodies.set(state, (bodies = {}));
    const key = reissue ? 'reissue' : 'current';
    const cached = bodies[key];
    if (cached) return cached;
    const bundle: TrustBundle = {
      caBundle: state.bundlePem,
      bundleVersion: state.bundleVersion,
      supportedBackends: state.supportedBackends,
      enabledBackend: state.enabled?.name ?? '',
      ...(state.trustDomains ? { trustDomains: state.trustDomains } : {}),
      reissue,
    };
    return (bodies[key] = { bundle, json: JSON.stringify(bundle) });
  }
}

/**
 * Contact is recorded to the second: a poll within a second of the recorded contact does not write it again (what
 * reads it — the online window, 90 s by default, and the insights — counts in seconds).
 */
const CONTACT_RESOLUTION_MS = 1_000;

function contactIsRecent(facts: DataplaneFacts | undefined, now: number): boolean {
  return facts?.lastContact != null && now - facts.lastContact < CONTACT_RESOLUTION_MS && now >= facts.lastContact;
}

/** Reporting `serial` again would change nothing: it is the recorded one, with its backend known if it can be. */
function servedIsRecorded(facts: DataplaneFacts | undefined, serial: string): boolean {
  if (!facts) return false;
  const normalized = normalizeSerial(serial);
  return (
    facts.servedSerial === normalized &&
    (facts.issuedSerial !== normalized || facts.servedBackend === facts.issuedBackend)
  );
}

/**
 * Re-issue when the certificate is missing, expired, past renewAfter, from another issuer (a backend, or the
 * MeshIdentity that wins the dataplane now), or for other SANs.
 */
function needsReissue(
  facts: DataplaneFacts | undefined,
  expected: { backend: string; uris: string[] | undefined },
  now: number,
): boolean {
  const uris = expected.uris;
  if (!facts?.issuedBackend || facts.certNotAfter <= now) return true;
  if (facts.issuedBackend !== expected.backend) return true;
  if (facts.renewAfter !== null && now >= facts.renewAfter) return true;
  // No certificate is possible under the profile (uris undefined): asking for one would only loop on 409s.
  return uris !== undefined && facts.identity !== identityOf(uris);
}
