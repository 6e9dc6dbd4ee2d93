/**
 * The reference dataplane agent core: register the Dataplane, get a certificate (CSR mode by default), long-poll the
 * trust bundle with acknowledgement, renew at renewAfter or on `reissue`, write cert.pem/key.pem/ca.pem atomically.
 * It runs in-process (tests) or behind the meshcp-dp command.
 *
 * Ordering matters for zero-downtime rotation: a new bundle is installed (listeners notified, the file set switched,
 * the proxy reloaded by --reload-command) before the next poll acknowledges it, so the control plane never counts a
 * dataplane as trusting a root it does not use. With the same poll the agent reports the serial of the certificate
 * the proxy serves (`servedSerial`), so the control plane counts what proxies serve, not only what it issued.
 */
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AddressList, parseAddressList } from '../client/addresses.js';
import { ApiCallError, ApiClient, ConnectionError, DEFAULT_REQUEST_TIMEOUT_MS } from '../client/http.js';
import type { IssuedCertificate, TrustBundle } from '../client/types.js';
import { sleep, type Clock } from '../domain/clock.js';
import { newKeyAndCsr } from './csr.js';
import { publishFileSet } from './files.js';
import { runReloadCommand } from './reload.js';

export interface AgentMaterial {
  certPem: string;
  keyPem: string;
  /** The trust bundle: roots of every backend of the mesh. */
  caPem: string;
  issuedBackend: string;
  notAfter: string;
  renewAfter: string;
  bundleVersion: string;
  supportedBackends: string[];
  /** The trust domains a peer's SPIFFE ID may belong to (meshes of the new model); absent: `spiffe://<mesh>/`. */
  trustDomains?: string[];
}

export type AgentEvent = Record<string, unknown> & { event: string };

export interface AgentOptions {
  /**
   * The control plane: one address, or several instances of one (sharing a database) in order. The agent uses one
   * at a time and moves to the next when it stops answering (refused, reset, timed out, 502/503/504); certificates
   * and bundles of every instance are equally valid, so a move needs no state reset.
   */
  cpAddress: string | readonly string[];
  /** Bound on one request to one address (default 15 s); a long-poll gets its wait on top. */
  requestTimeoutMs?: number;
  /** Called before every request, so a rotated token file is picked up. */
  token: () => string | Promise<string>;
  caPem?: string;
  /** The Dataplane resource to register (type, mesh, name, networking...). */
  dataplane: Record<string, unknown> & { mesh: string; name: string };
  outputDir?: string;
  /** true (default): the key is generated here and only a CSR is sent. */
  csr?: boolean;
  /** Long-poll duration of the trust bundle (at most 60s server-side). */
  pollWaitMs?: number;
  /** Upper bound of the random delay before a re-issue the control plane asked for. */
  reissueDelayMs?: number;
  log?: (event: AgentEvent) => void;
  /** Shell command that makes the proxy load the switched file set; the agent acknowledges only after it exits 0. */
  reloadCommand?: string;
  /** Time limit of one run of the reload command (default 30s). */
  reloadTimeoutMs?: number;
  /** Decides renewal times and backoffs (a fake clock in tests). */
  clock: Clock;
}

/** What the proxy really holds: acknowledged to the control plane on every poll. */
interface HeldMaterial {
  bundleVersion: string;
  /** Serial of the served certificate, upper-case hex. */
  serial: string;
}

const MAX_BACKOFF_MS = 30_000;

export class DataplaneAgent extends EventEmitter {
  /** The newest material (what the files hold). */
  material?: AgentMaterial;
  /** What the proxy holds: equal to `material` once the reload command (if any) succeeded after the last switch. */
  held?: HeldMaterial;
  certificates = 0;
  reloads = 0;
  reloadFailures = 0;
  private reloadPending = false;
  private stopped = false;
  private needCertificate: 'initial' | 'renewal' | 'reissue' | undefined = 'initial';
  private cancelRenewal = () => {};
  private pollAbort?: AbortController;
  private stopAbort = new AbortController();
  private loop?: Promise<void>;
  private readonly mesh: string;
  private readonly name: string;
  private readonly clock: Clock;
  private readonly api: ApiClient;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: AgentOptions) {
    super();
    this.clock = options.clock;
    this.mesh = options.dataplane.mesh;
    this.name = options.dataplane.name;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // Each move is logged once, with why; the token never appears (it is a header, never part of an address).
    const addresses = new AddressList(parseAddressList(options.cpAddress), ({ from, to, reason }) =>
      this.log({ event: 'cp-switch', from, to, reason }),
    );
    this.api = new ApiClient({
      address: addresses,
      token: options.token,
      caPem: options.caPem,
      userAgent: 'meshcp-dp',
      timeoutMs: this.requestTimeoutMs,
    });
  }

  /** The control-plane address in use. */
  get cpAddress(): string {
    return this.api.address;
  }

  private log(event: AgentEvent): void {
    this.options.log?.({
      time: new Date(this.clock.now()).toISOString(),
      dataplane: `${this.mesh}/${this.name}`,
      ...event,
    });
  }

  private get base(): string {
    return `/meshes/${encodeURIComponent(this.mesh)}/dataplanes/${encodeURIComponent(this.name)}`;
  }

  /** Registers and gets the first certificate (retrying until it works or stop()), then keeps it fresh. */
  async start(): Promise<void> {
    await this.retrying('register', () => this.register());
    await this.retrying('certificate', () => this.fetchCertificate());
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopAbort.abort();
    this.pollAbort?.abort();
    this.cancelRenewal();
    await this.loop;
  }

  private async retrying(during: string, action: () => Promise<void>): Promise<void> {
    let backoff = 500;
    for (;;) {
      if (this.stopped) throw new Error('agent stopped');
      try {
        await action();
        return;
      } catch (err) {
        if (this.stopped) throw new Error('agent stopped');
        const refused = this.refusal(during, err);
        if (refused) throw refused;
        const wait = retryDelay(err, backoff);
        this.log({ event: 'error', during, message: describe(err), retryInMs: wait });
        await sleep(this.clock, wait, this.stopAbort.signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private async register(): Promise<void> {
    const response = await this.api.put(this.base, this.options.dataplane);
    this.log({ event: 'registered', status: response.status === 201 ? 'created' : 'updated' });
  }

  private async fetchCertificate(): Promise<void> {
    const reason = this.needCertificate ?? 'renewal';
    const useCsr = this.options.csr !== false;
    const generated = useCsr ? newKeyAndCsr(this.name) : undefined;
    const body = {
      ...(generated ? { csr: generated.csrPem } : {}),
      ...(this.held ? { bundleVersion: this.held.bundleVersion } : {}),
    };
    const response = await this.api.call('POST', `${this.base}/certificate`, { body });
    const answer = JSON.parse(response.text) as IssuedCertificate;
    const keyPem = generated?.keyPem ?? answer.privateKey;
    if (!keyPem) throw new Error('the control plane returned no private key and no CSR was sent');
    this.install({
      certPem: answer.certificate,
      keyPem,
      caPem: answer.caBundle,
      issuedBackend: answer.issuedBackend,
      notAfter: answer.notAfter,
      renewAfter: answer.renewAfter,
      bundleVersion: answer.bundleVersion,
      supportedBackends: answer.supportedBackends,
      ...(answer.trustDomains ? { trustDomains: answer.trustDomains } : {}),
    });
    this.certificates++;
    this.needCertificate = undefined;
    this.log({
      event: 'certificate',
      reason,
      issuedBackend: answer.issuedBackend,
      notAfter: answer.notAfter,
      renewAfter: answer.renewAfter,
      bundleVersion: answer.bundleVersion,
      keyGeneratedBy: useCsr ? 'agent' : 'control-plane',
    });
    await this.publish();
    this.scheduleRenewal(Date.parse(answer.renewAfter));
  }

  private install(material: AgentMaterial): void {
    this.material = material;
    this.emit('material', material);
  }

  /**
   * Switches the file set to the current material. Without a reload command the proxy is taken to hold it at once
   * (meshcp-dp --serve swaps its TLS contexts on the 'material' event); with one, only after the command succeeds.
   */
  private async publish(): Promise<void> {
    const material = this.material!;
    if (this.options.outputDir) {
      const version = await publishFileSet(
        this.options.outputDir,
        { certPem: material.certPem, keyPem: material.keyPem, caPem: material.caPem },
        this.clock.now(),
      );
      this.log({ event: 'files-written', dir: this.options.outputDir, version, bundleVersion: material.bundleVersion });
    }
    if (this.options.reloadCommand) this.reloadPending = true;
    else this.held = heldOf(material);
  }

  /** Runs the reload command for the current file set; throws when it fails, so the caller retries with backoff. */
  private async reloadProxy(): Promise<void> {
    const material = this.material!;
    const outcome = await runReloadCommand(this.options.reloadCommand!, this.options.reloadTimeoutMs ?? 30_000, {
      MESHCP_DP_OUTPUT_DIR: this.options.outputDir ?? '',
      MESHCP_DP_BUNDLE_VERSION: material.bundleVersion,
    });
    if (!outcome.ok) {
      this.reloadFailures++;
      const why = outcome.timedOut
        ? `timed out after ${outcome.durationMs} ms`
        : `exited with ${outcome.code ?? 'a signal'}`;
      this.log({
        event: 'reload',
        ok: false,
        durationMs: outcome.durationMs,
        exitCode: outcome.code,
        timedOut: outcome.timedOut,
        output: outcome.output,
      });
      throw new ReloadFailed(
        `reload command ${why}; the proxy keeps bundle ${this.held?.bundleVersion ?? '(none yet)'}${outcome.output ? `: ${outcome.output}` : ''}`,
      );
    }
    // The loop is sequential: no switch happens while the command runs, so the proxy now holds exactly `material`.
    this.reloadPending = false;
    this.reloads++;
    this.held = heldOf(material);
    this.log({
      event: 'reload',
      ok: true,
      durationMs: outcome.durationMs,
      bundleVersion: material.bundleVersion,
      servedSerial: this.held.serial,
    });
  }

  private scheduleRenewal(renewAt: number): void {
    this.cancelRenewal();
    this.cancelRenewal = this.clock.schedule(
      () => {
        this.needCertificate ??= 'renewal';
        this.pollAbort?.abort(); // wake the long-poll
      },
      Math.max(renewAt - this.clock.now(), 0),
      { keepAlive: false },
    );
  }

  private async run(): Promise<void> {
    let backoff = 500;
    while (!this.stopped) {
      try {
        if (this.needCertificate) await this.fetchCertificate();
        if (this.reloadPending) await this.reloadProxy();
        const reissue = await this.pollBundle();
        backoff = 500;
        if (reissue && !this.needCertificate) {
          // Spread a fleet's re-issues: wait a little at random first.
          const delay = Math.floor(Math.random() * (this.options.reissueDelayMs ?? 2000));
          this.log({ event: 'reissue-scheduled', inMs: delay });
          await sleep(this.clock, delay, this.stopAbort.signal);
          this.needCertificate = 'reissue';
        }
      } catch (err) {
        if (this.stopped) break;
        if (isAbort(err)) continue; // the renewal timer woke the poll
        const refused = this.refusal('sync', err);
        if (refused) {
          this.stopped = true;
          this.cancelRenewal();
          this.emit('refused', refused);
          break;
        }
        const wait = retryDelay(err, backoff);
        this.log({
          event: 'error',
          during: err instanceof ReloadFailed ? 'reload' : 'sync',
          message: describe(err),
          retryInMs: wait,
        });
        // While the proxy cannot reload, keep telling the control plane what it holds (the older bundle): the
        // dataplane stays online and named as not trusting the new root, and a newer bundle is still picked up.
        if (err instanceof ReloadFailed) await this.pollBundle(0).catch(() => false);
        await sleep(this.clock, wait, this.stopAbort.signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /**
   * A 403 on the agent's own routes: its token is another dataplane's, lacks the tags this Dataplane carries, or is
   * not bound to a service where the control plane requires it. Asking again with the same token cannot change
   * that, so the agent stops (logged once) instead of retrying forever.
   */
  private refusal(during: string, err: unknown): AgentRefused | undefined {
    if (!(err instanceof ApiCallError) || err.status !== 403) return undefined;
    const message =
      `the control plane refused this agent's token (${describe(err)}). Retrying with it cannot help: give the agent a token ` +
      `of dataplane ${this.mesh}/${this.name} (meshctl generate dataplane-token --name ${this.name} --mesh ${this.mesh}) and start it again`;
    this.log({ event: 'refused', during, message });
    return new AgentRefused(message);
  }

  /** One long-poll; returns whether the control plane asks for a new certificate. */
  private async pollBundle(waitOverrideMs?: number): Promise<boolean> {
    const held = this.held?.bundleVersion;
    this.pollAbort = new AbortController();
    if (this.stopped) this.pollAbort.abort(); // stop() came during a certificate fetch: do not start a long wait
    const waitMs = waitOverrideMs ?? this.options.pollWaitMs ?? 30_000;
    const response = await this.api.call('GET', `${this.base}/trust-bundle`, {
      query: {
        wait: `${Math.max(0, Math.round(waitMs / 1000))}s`,
        ...(this.held ? { servedSerial: this.held.serial } : {}),
      },
      headers: held ? { 'if-none-match': `"${held}"` } : {},
      signal: this.pollAbort.signal,
      timeoutMs: waitMs + this.requestTimeoutMs,
      accept: [304],
    });
    if (response.status === 304) return false;
    const bundle = JSON.parse(response.text) as TrustBundle;
    if (this.material && bundle.bundleVersion !== this.material.bundleVersion) {
      const { trustDomains: _previous, ...held } = this.material;
      this.install({
        ...held,
        caPem: bundle.caBundle,
        bundleVersion: bundle.bundleVersion,
        supportedBackends: bundle.supportedBackends,
        ...(bundle.trustDomains ? { trustDomains: bundle.trustDomains } : {}),
      });
      this.log({
        event: 'bundle',
        bundleVersion: bundle.bundleVersion,
        supportedBackends: bundle.supportedBackends,
        enabledBackend: bundle.enabledBackend,
        reissue: bundle.reissue,
      });
      await this.publish();
    }
    return bundle.reissue;
  }
}

class ReloadFailed extends Error {}

/** The control plane refused the agent's token (403): it stops rather than retry. */
class AgentRefused extends Error {}

function heldOf(material: AgentMaterial): HeldMaterial {
  return {
    bundleVersion: material.bundleVersion,
    serial: new X509Certificate(material.certPem).serialNumber.toUpperCase(),
  };
}

/** The backoff, or the server's Retry-After (429 rate limit, 409 while the CA changes) when it says more. */
function retryDelay(err: unknown, backoff: number): number {
  const retryAfter = err instanceof ApiCallError ? err.retryAfterSeconds : undefined;
  return retryAfter !== undefined ? Math.min(Math.max(backoff, retryAfter * 1000), 5 * 60_000) : backoff;
}

function isAbort(err: unknown): boolean {
  return (err as Error)?.name === 'AbortError';
}

function describe(err: unknown): string {
  if (err instanceof ApiCallError) return `${err.method} ${err.path}: ${err.status}: ${err.lines.join('; ')}`;
  if (err instanceof ConnectionError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
