/**
 * The benchmark table: one row per figure of issues 7 and 17, with its target and "yes" or "NO". `npm run bench`
 * prints it after a run; `npx tsx bench/table.ts bench/results/<run>.json` prints it from a committed run (the
 * README's Performance table is that output).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Machine } from './lib.js';

type Row = [benchmark: string, result: string, target: string, met: string];
type Check = { p50Ms: number; p99Ms: number };

// A run's JSON as bench/run.ts writes it (typed loosely: old runs stay printable).
type Run = Record<string, any>;

const met = (ok: boolean) => (ok ? 'yes' : 'NO');
const ms = (s: Check) => `p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms`;

export function tableRows(run: Run): Row[] {
  const rows: Row[] = [];
  const { inProcess, http, httpPostgres, validators, validatorsPostgres, fleet } = run;
  if (inProcess) {
    rows.push([
      'in-process issuance, ECDSA P-256 CA',
      `${inProcess.ecdsaP256.certsPerSecond}/s vs openssl sign ${Math.round(inProcess.ecdsaP256.opensslSignPerSecond)}/s`,
      `${inProcess.ecdsaP256.ratio}x (>= 0.40)`,
      met(inProcess.ecdsaP256.ratio >= 0.4),
    ]);
    rows.push([
      'in-process issuance, RSA-2048 CA',
      `${inProcess.rsa2048.certsPerSecond}/s vs openssl sign ${Math.round(inProcess.rsa2048.opensslSignPerSecond)}/s`,
      `${inProcess.rsa2048.ratio}x (>= 0.70)`,
      met(inProcess.rsa2048.ratio >= 0.7),
    ]);
  }
  if (http) {
    const path = (label: string, t: Run, vs?: Run): Row => [
      `HTTP issuance, ${label} (P-256, ${http.connections} conns)`,
      `${t.certsPerSecond}/s, ${t.cpuMicrosPerCert} µs CPU/cert (main thread ${t.mainThreadMicrosPerCert})`,
      vs ? `CPU/cert <= cfssl's ${vs.cpuMicrosPerCert} µs` : 'reference',
      vs ? met(t.cpuMicrosPerCert <= vs.cpuMicrosPerCert) : '-',
    ];
    rows.push(path('as a dataplane (token, bundleVersion)', http.dataplane, http.cfssl));
    rows.push(path('as a dataplane, fresh key per CSR', http.dataplaneFreshKeys, http.cfsslFreshKeys ?? http.cfssl));
    rows.push(path('as the admin', http.admin, http.cfssl));
    rows.push(path('cfssl serve, same CA and CSR', http.cfssl));
  }
  if (httpPostgres?.dataplane) {
    const t = httpPostgres.dataplane;
    rows.push([
      `HTTP issuance as a dataplane, PostgreSQL store`,
      `${t.certsPerSecond}/s, ${t.cpuMicrosPerCert} µs CPU/cert (control plane only)`,
      'reported',
      '-',
    ]);
  }
  for (const [v, engine] of [
    [validators, 'SQLite'],
    [validatorsPostgres, 'PostgreSQL'],
  ] as const) {
    if (!v) continue;
    for (const r of v.results)
      rows.push([`${r.case}, ${engine} (${v.activeDataplanes} active)`, ms(r), 'p99 <= 20 ms', met(r.p99Ms <= 20)]);
  }
  if (fleet) {
    const n = fleet.dataplanes;
    rows.push([
      `${n} long-polling dataplanes: control plane peak RSS`,
      `${fleet.serverPeakRssMiB} MiB (idle with the fleet: ${fleet.serverIdleRssMiB} MiB${fleet.serverHeapPerWaitingPollKiB === undefined ? '' : `, heap ${fleet.serverHeapPerWaitingPollKiB} KiB/poll`})`,
      '<= 400 MB',
      met(fleet.serverPeakRssMiB * 1.048576 <= 400),
    ]);
    rows.push([
      `${n} dataplanes: new bundle after step 1`,
      ms(fleet.step1Propagation),
      'p99 <= 2 s',
      met(fleet.step1Propagation.p99Ms <= 2000),
    ]);
    rows.push([
      `${n} dataplanes: all re-issued after step 2`,
      `${fleet.step2Reissue.secondsUntilAll} s (server CPU ${fleet.step2ServerCpuSeconds} s)`,
      '<= 20 s',
      met(fleet.step2Reissue.secondsUntilAll <= 20),
    ]);
    rows.push([
      `status page during the storms`,
      ms(fleet.operatorStatus),
      'p99 <= 20 ms',
      met(fleet.operatorStatus.p99Ms <= 20),
    ]);
    rows.push([
      `dry run during the storms`,
      ms(fleet.operatorDryRun),
      'p99 <= 20 ms',
      met(fleet.operatorDryRun.p99Ms <= 20),
    ]);
  }
  return rows;
}

export function printTable(machine: Machine, rows: Row[]): void {
  const header: Row = ['benchmark', 'result', 'target', 'met'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(
    `machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, OpenSSL ${machine.openssl}, ${machine.os}; load average before: ${machine.loadAverage.join(' ')}; ${machine.at}\n`,
  );
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? '')) {
  const run = JSON.parse(
    readFileSync(process.argv[2] ?? new URL('./results/latest.json', import.meta.url), 'utf8'),
  ) as Run;
  printTable(run.machine, tableRows(run));
}
