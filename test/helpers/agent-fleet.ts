// A fleet of the shipped dataplane agent core (src/agent: DataplaneAgent, its EchoServer on the inbound port and its
// PeerCaller), run in-process against a control plane, with everything a rotation test counts: handshakes per agent,
// listener refusals, the events the agents log, the bundle versions each installed, and peers answering with a
// SPIFFE identity other than their service's.
import { X509Certificate } from 'node:crypto';
import { DataplaneAgent, type AgentEvent, type AgentMaterial, type AgentOptions } from '../../src/agent/agent.js';
import { EchoServer, PeerCaller, type CallStats, type Peer } from '../../src/agent/tls.js';
import { systemClock } from '../../src/domain/clock.js';

interface FleetMember {
  name: string;
  service: string;
  /** true: the agent sends a CSR; false: the control plane makes the key. */
  csr: boolean;
}

export const rootsOf = (pem: string): X509Certificate[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((c) => new X509Certificate(c));

export class AgentFleet {
  readonly agents = new Map<string, DataplaneAgent>();
  readonly servers = new Map<string, EchoServer>();
  readonly callers = new Map<string, PeerCaller>();
  readonly ports = new Map<string, number>();
  readonly events: AgentEvent[] = [];
  /** Every bundle version each agent installed (its 'material' events), in order. */
  readonly installed = new Map<string, string[]>();
  /** Successful calls answered by a peer whose SPIFFE ID is not its service's. */
  readonly wrongPeers: string[] = [];
  private readonly services = new Map<string, string>();

  /** `identityId`: in a cut-over to MeshIdentity, the other SPIFFE ID a peer of `service` may answer with. */
  constructor(
    private readonly mesh: string,
    private readonly identityId?: (service: string) => string,
  ) {}

  get names(): string[] {
    return [...this.agents.keys()].sort();
  }

  private readonly log = (e: AgentEvent): void => {
    this.events.push(e);
    if (e.event === 'call' && e.ok === true) {
      const port = Number(String(e.peer).split(':').pop());
      const peer = [...this.ports].find(([, p]) => p === port)?.[0];
      const service = peer ? this.services.get(peer)! : '?';
      const expected = `spiffe://${this.mesh}/${service}`;
      const alternative = this.identityId?.(service);
      if (e.peerId !== expected && e.peerId !== alternative)
        this.wrongPeers.push(
          `${e.peer} (${peer}): ${e.peerId}, expected ${expected}${alternative ? ` or ${alternative}` : ''}`,
        );
    }
  };

  /** Adds an agent (not started); `options` are the agent's own, minus the mesh and the fleet's log. */
  add(member: FleetMember, options: Omit<AgentOptions, 'log' | 'csr'>): DataplaneAgent {
    const agent = new DataplaneAgent({ ...options, csr: member.csr, log: this.log });
    this.services.set(member.name, member.service);
    this.installed.set(member.name, []);
    agent.on('material', (m: AgentMaterial) => this.installed.get(member.name)!.push(m.bundleVersion));
    this.agents.set(member.name, agent);
    return agent;
  }

  /** Starts every agent (register, first certificate, long-poll) and then its mTLS echo listener. */
  async start(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.start()));
    for (const [name, agent] of this.agents) {
      const server = new EchoServer(agent, { host: '127.0.0.1', port: 0, log: this.log });
      this.servers.set(name, server);
      this.ports.set(name, await server.start());
    }
  }

  material(name: string): AgentMaterial {
    return this.agents.get(name)!.material!;
  }

  peer(name: string): Peer {
    return { host: '127.0.0.1', port: this.ports.get(name)! };
  }

  /** Every agent calls every other agent each `intervalMs`, until stopTraffic(). */
  startTraffic(intervalMs: number): void {
    for (const [name, agent] of this.agents) {
      const peers = this.names.filter((n) => n !== name).map((n) => this.peer(n));
      const caller = new PeerCaller(agent, peers, {
        mesh: this.mesh,
        clock: systemClock,
        intervalMs,
        // A certificate a peer refuses fails at once (a TLS alert); only a starved machine makes a sound handshake
        // slow, and that is not what these tests measure: give it time rather than count it as failed.
        callTimeoutMs: 30_000,
        log: this.log,
      });
      this.callers.set(name, caller);
      caller.start();
    }
  }

  async stopTraffic(): Promise<void> {
    await Promise.all([...this.callers.values()].map((c) => c.stop()));
  }

  /** Successful handshakes so far, per agent. */
  handshakes(): Map<string, number> {
    return new Map([...this.callers].map(([name, c]) => [name, c.totals().ok]));
  }

  totals(): CallStats {
    const sum: CallStats = { ok: 0, failed: 0, unreachable: 0 };
    for (const c of this.callers.values()) {
      const t = c.totals();
      sum.ok += t.ok;
      sum.failed += t.failed;
      sum.unreachable += t.unreachable;
    }
    return sum;
  }

  /** Handshakes the listeners did not complete, per agent. */
  listenerRefusals(): number[] {
    return [...this.servers.values()].map((s) => s.handshakeFailures);
  }

  /** The events of one agent (its own carry `dataplane: "<mesh>/<name>"`), from index `since` of the event log. */
  eventsOf(name: string, event: string, since = 0): AgentEvent[] {
    return this.events.slice(since).filter((e) => e.event === event && e.dataplane === `${this.mesh}/${name}`);
  }

  /** What each agent holds and the last thing it logged, for the message of a wait that timed out. */
  describe(): string {
    return this.names
      .map((name) => {
        const agent = this.agents.get(name)!;
        const last = this.events.filter((e) => e.dataplane === `${this.mesh}/${name}`).slice(-2);
        return `${name}: holds bundle ${agent.held?.bundleVersion}, newest ${agent.material?.bundleVersion} from ${agent.material?.issuedBackend}; last: ${JSON.stringify(last)}`;
      })
      .join('\n');
  }

  /** Failed calls and listener refusals, for assertion messages. */
  failures(): AgentEvent[] {
    return this.events.filter((e) => (e.event === 'call' || e.event === 'serve-handshake') && e.ok === false);
  }

  async close(): Promise<void> {
    await this.stopTraffic();
    await Promise.allSettled([...this.agents.values()].map((a) => a.stop()));
    await Promise.allSettled([...this.servers.values()].map((s) => s.stop()));
  }
}
