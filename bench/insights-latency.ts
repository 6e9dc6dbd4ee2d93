/**
 * Insight latency at fleet scale (issue 22): N dataplanes in one mesh (100,000 by default; a tenth of them builtin
 * gateways; 1,000 services; half of the fleet in contact within the online window, all holding a certificate), p50/p99
 * of `GET /mesh-insights/default`, `GET /mesh-insights` and `GET /global-insight` over real HTTP on loopback, one at a
 * time: what Kuma's GUI asks on every page. Run alone: `BENCH_FLEET=100000 npx tsx bench/insights-latency.ts`.
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { dataplaneProfile } from '../src/resources/dataplane-profile.js';
import { startInProcessCp } from './in-process-cp.js';
import { describeMachine, percentile, tempDir, writeJson } from './lib.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 300);
const TARGET_P99_MS = 20;

export async function benchInsightsLatency(options: { fleet?: number } = {}) {
  const FLEET = options.fleet ?? Number(process.env.BENCH_FLEET ?? 100_000);
  const dataDir = tempDir('meshcp-bench-insights-');
  const config = loadConfig({ MESHCP_DATA_DIR: dataDir, MESHCP_LOG_LEVEL: 'silent' });
  const { store, services, app, base } = await startInProcessCp(config);
  try {
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
    };
    await services.meshes.put('', 'default', mesh, { principal: { kind: 'admin' }, dryRun: false, force: false });
    const version = (await services.ca.stateOf('default'))!.bundleVersion;
    const now = Date.now();
    const seedStarted = Date.now();
    // What the Dataplane PUT pipeline writes per dataplane (resource, profile and counts), in large transactions.
    const names = Array.from({ length: FLEET }, (_, i) => `dp-${String(i).padStart(6, '0')}`);
    for (let from = 0; from < FLEET; from += 10_000) {
      await store.transaction(async (tx) => {
        for (let i = from; i < Math.min(FLEET, from + 10_000); i++) {
          const service = `svc-${i % 1000}`;
          const spec =
            i % 10 === 0
              ? {
                  networking: {
                    address: '127.0.0.1',
                    gateway: { type: 'BUILTIN' as const, tags: { 'kuma.io/service': `gw-${service}` } },
                  },
                }
              : {
                  networking: {
                    address: '127.0.0.1',
                    inbound: [{ port: 20001, tags: { 'kuma.io/service': service } }],
                  },
                };
          await tx.resources.upsert('Dataplane', 'default', names[i]!, spec, {});
          await tx.fleet.dataplaneWritten('default', names[i]!, dataplaneProfile(spec));
          await tx.facts.recordIssue('default', names[i]!, {
            backend: 'ca-1',
            identity: 'x',
            notBefore: now - 1000,
            notAfter: now + 86_400_000,
            renewAfter: now + 60_000,
            issuedAt: i % 2 === 0 ? now : now - 3_600_000,
          });
          await tx.facts.acknowledge('default', names[i]!, version, i % 2 === 0 ? now : now - 3_600_000);
        }
      });
    }
    const seedSeconds = Math.round((Date.now() - seedStarted) / 100) / 10;
    const call = async (path: string) => {
      const res = await fetch(base + path);
      const body = (await res.json()) as Record<string, any>;
      if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
      return body;
    };
    const insight = await call('/mesh-insights/default');
    if (insight.dataplanes.total !== FLEET || insight.dataplanes.online !== FLEET / 2)
      throw new Error(`unexpected counts ${JSON.stringify(insight.dataplanes)}`);
    const measure = async (path: string) => {
      for (let i = 0; i < 20; i++) await call(path); // warm-up
      const times: number[] = [];
      for (let i = 0; i < ITERATIONS; i++) {
        const start = process.hrtime.bigint();
        await call(path);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      times.sort((a, b) => a - b);
      const p99Ms = Number(percentile(times, 99).toFixed(2));
      return {
        case: `GET ${path}`,
        p50Ms: Number(percentile(times, 50).toFixed(2)),
        p99Ms,
        targetP99Ms: TARGET_P99_MS,
        met: p99Ms <= TARGET_P99_MS,
      };
    };
    const results = [
      await measure('/mesh-insights/default'),
      await measure('/mesh-insights'),
      await measure('/global-insight'),
    ];
    // A view right after a Dataplane write (the counts move with the write; nothing is recounted), and right after a
    // contact that starts an online stretch (the live counts are recounted: a scan of the online contacts and of the
    // active certificates), as after any certificate or acknowledgement: what a page costs while the fleet changes.
    const afterWriteMs: number[] = [];
    const afterNewContactMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const dp = {
        type: 'Dataplane',
        mesh: 'default',
        name: `extra-${i}`,
        networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'extra' } }] },
      };
      await services.dataplanes.put('default', `extra-${i}`, dp, {
        principal: { kind: 'admin' },
        dryRun: false,
        force: false,
      });
      const start = process.hrtime.bigint();
      await call('/mesh-insights/default');
      afterWriteMs.push(Number((Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)));
      await store.facts.touch('default', names[2 * i + 1]!, Date.now()); // an offline one comes back
      const recount = process.hrtime.bigint();
      await call('/mesh-insights/default');
      afterNewContactMs.push(Number((Number(process.hrtime.bigint() - recount) / 1e6).toFixed(1)));
    }
    return {
      engine: 'sqlite',
      dataplanes: FLEET,
      online: FLEET / 2,
      seedSeconds,
      iterations: ITERATIONS,
      results,
      meshInsightAfterDataplaneWriteMs: afterWriteMs,
      meshInsightAfterNewContactMs: afterNewContactMs,
    };
  } finally {
    await app.close();
    await services.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? '')) {
  const machine = describeMachine();
  const insights = await benchInsightsLatency();
  console.log(JSON.stringify(insights, null, 2));
  if (process.env.BENCH_WRITE)
    writeJson(new URL(`./results/${machine.at.replace(/[:.]/g, '-')}-insights.json`, import.meta.url).pathname, {
      machine,
      insights,
    });
}
