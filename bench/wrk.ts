/**
 * wrk runs for the HTTP issuance bench: one fixed POST body, or a file of bodies (one JSON per line) rotated per
 * request so that every request carries a different CSR (a real fleet never repeats a key).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WrkLoad {
  url: string;
  /** POST unless told. */
  method?: string;
  headers: Record<string, string>;
  /** One body for every request... */
  body?: string;
  /** ...or a file with one body per line, taken in turn (each wrk thread starts at its own offset). */
  bodiesFile?: string;
}

export interface WrkResult {
  requests: number;
  /** Non-2xx answers plus socket errors. */
  errors: number;
  rps: number;
}

const lua = (value: string) => JSON.stringify(value); // a JSON string literal is a valid Lua string literal here

function script(load: WrkLoad): string {
  const headers = Object.entries({ 'Content-Type': 'application/json', ...load.headers })
    .map(([name, value]) => `wrk.headers[${lua(name)}] = ${lua(value)}`)
    .join('\n');
  const common = `wrk.method = ${lua(load.method ?? 'POST')}\n${headers}\n`;
  if (load.body !== undefined) return `${common}wrk.body = ${lua(load.body)}\n`;
  return `${common}
local bodies = {}
for line in io.lines(${lua(load.bodiesFile!)}) do bodies[#bodies + 1] = line end
local next_body = 0
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  next_body = math.random(#bodies)
end
function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end
`;
}

export function runWrk(
  load: WrkLoad,
  dir: string,
  options: { connections: number; threads: number; seconds: number },
): WrkResult {
  const file = join(dir, `wrk-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(file, script(load));
  const out = execFileSync(
    'wrk',
    [`-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, '-s', file, load.url],
    { encoding: 'utf8' },
  );
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  if (!Number.isFinite(requests) || !Number.isFinite(rps)) throw new Error(`unexpected wrk output:\n${out}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors =
    (non2xx ? Number(non2xx[1]) : 0) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { requests, errors, rps };
}
