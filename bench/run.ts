/**
 * `npm run bench`: builds the control plane, runs the four benchmarks of issue 7 in one invocation, prints a table
 * and writes bench/results/latest.json. Not part of `npm test`; run it on a quiet machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { benchFleetReissue } from './fleet-reissue.js';
import { benchHttpIssuance } from './http-issuance.js';
import { benchInProcessIssuance } from './in-process-issuance.js';
import { ROOT, writeJson } from './lib.js';
import { benchValidatorLatency } from './validator-latency.js';

execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, at: new Date().toISOString() };
console.error('1/4 in-process issuance vs openssl speed ...');
const inProcess = benchInProcessIssuance();
console.error('2/4 HTTP issuance from CSRs vs cfssl serve ...');
const http = await benchHttpIssuance();
console.error('3/4 validator latency at 10,000 active dataplanes ...');
const validators = await benchValidatorLatency();
console.error('4/4 fleet re-issue of 2,000 dataplanes ...');
const fleet = await benchFleetReissue();

const pass = (ok: boolean) => (ok ? 'yes' : 'NO');
const rows: [string, string, string, string][] = [
  ['in-process issuance, ECDSA P-256 CA', `${inProcess.ecdsaP256.certsPerSecond}/s vs openssl sign ${Math.round(inProcess.ecdsaP256.opensslSignPerSecond)}/s`, `${inProcess.ecdsaP256.ratio}x (>= 0.40)`, pass(inProcess.ecdsaP256.ratio >= 0.4)],
  ['in-process issuance, RSA-2048 CA', `${inProcess.rsa2048.certsPerSecond}/s vs openssl sign ${Math.round(inProcess.rsa2048.opensslSignPerSecond)}/s`, `${inProcess.rsa2048.ratio}x (>= 0.70)`, pass(inProcess.rsa2048.ratio >= 0.7)],
  ['HTTP issuance from CSRs (P-256)', `meshcp ${http.meshcpRps}/s vs cfssl ${http.cfsslRps}/s, ${http.connections} conns`, `${http.ratio}x (>= 1.2)`, pass(http.ratio >= 1.2)],
  ...validators.results.map((r): [string, string, string, string] => [
    `${r.case} (${validators.activeDataplanes} active)`, `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`, 'p99 <= 20 ms', pass(r.p99Ms <= 20),
  ]),
  ['fleet re-issue after the switch', `${fleet.dataplanes} dataplanes in ${fleet.secondsUntilAllReissued} s, server CPU ${fleet.serverCpuSeconds} s`, '<= 10 s', pass(fleet.secondsUntilAllReissued <= 10)],
  ['server peak RSS during the fleet run', `${fleet.serverPeakRssMiB} MiB`, '<= 300 MB', pass(fleet.serverPeakRssMiB * 1.048576 <= 300)],
];
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), ['benchmark', 'result', 'target', 'met'][i].length));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}\n`);
console.log(line(['benchmark', 'result', 'target', 'met']));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
mkdirSync(new URL('./results', import.meta.url), { recursive: true });
writeJson(new URL('./results/latest.json', import.meta.url).pathname, { machine, inProcess, http, validators, fleet });
