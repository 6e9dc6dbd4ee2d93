/**
 * `npm run bench`: builds the control plane, runs every benchmark of issues 7 and 17 in one invocation (SQLite and
 * PostgreSQL side by side where the issue asks for both), prints one table with "met" or "NO" per target, and writes
 * the run with the machine's description to bench/results/<time>.json (and latest.json). Not part of `npm test`;
 * run it on a quiet machine. `npx tsx bench/table.ts <result.json>` prints the README table of a committed run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { benchFleetLongPoll } from './fleet-longpoll.js';
import { benchHttpIssuance } from './http-issuance.js';
import { benchInProcessIssuance } from './in-process-issuance.js';
import { benchInsightsLatency } from './insights-latency.js';
import { describeMachine, ROOT, writeJson } from './lib.js';
import { printTable, tableRows } from './table.js';
import { benchValidatorLatency } from './validator-latency.js';

execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
const machine = describeMachine();
const step = (n: number, what: string) => console.error(`${n}/8 ${what} ...`);
step(1, 'in-process issuance vs openssl speed');
const inProcess = benchInProcessIssuance();
step(2, 'HTTP issuance (admin, dataplane, fresh keys) vs cfssl serve, SQLite store');
const http = await benchHttpIssuance();
step(3, 'HTTP issuance as a dataplane, PostgreSQL store');
const httpPostgres = await benchHttpIssuance({ engine: 'postgres' });
step(4, 'rotation checks at 100,000 active dataplanes, SQLite');
const validators = await benchValidatorLatency({ engine: 'sqlite', fleet: 100_000 });
step(5, 'rotation checks at 10,000 active dataplanes, PostgreSQL');
const validatorsPostgres = await benchValidatorLatency({ engine: 'postgres', fleet: 10_000 });
step(6, '10,000 dataplanes long-polling one instance through a rotation');
const fleet = await benchFleetLongPoll();
step(7, 'Kuma GUI insights at 100,000 dataplanes, SQLite');
const insights = await benchInsightsLatency({ fleet: 100_000 });
step(8, 'done');

const result = { machine, inProcess, http, httpPostgres, validators, validatorsPostgres, fleet, insights };
printTable(machine, tableRows(result));
const dir = new URL('./results/', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const file = `${dir}${machine.at.replace(/[:.]/g, '-')}.json`;
writeJson(file, result);
writeJson(`${dir}latest.json`, result);
console.error(`written: ${file}`);
