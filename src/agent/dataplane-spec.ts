/** The Dataplane the agent registers: from a YAML/JSON file, or built from flags. */
import { parse } from 'yaml';

export type DataplaneResource = Record<string, unknown> & {
  type: 'Dataplane';
  mesh: string;
  name: string;
  networking: {
    address: string;
    inbound: { port: number; servicePort?: number; tags: Record<string, string> }[];
    [k: string]: unknown;
  };
};

export class DataplaneSpecError extends Error {}

/** `port:servicePort:service` (servicePort may be empty: `20001::web`). */
export function parseInbound(value: string): { port: number; servicePort?: number; tags: Record<string, string> } {
  const m = /^(\d+):(\d*):([A-Za-z0-9.\-_:]+)$/.exec(value);
  if (!m) throw new DataplaneSpecError(`--inbound expects port:servicePort:service, got "${value}"`);
  const port = Number(m[1]);
  const servicePort = m[2] === '' ? undefined : Number(m[2]);
  if (port < 1 || port > 65535 || (servicePort !== undefined && (servicePort < 1 || servicePort > 65535))) {
    throw new DataplaneSpecError(`--inbound ports must be 1-65535, got "${value}"`);
  }
  return { port, ...(servicePort !== undefined ? { servicePort } : {}), tags: { 'kuma.io/service': m[3] } };
}

export function dataplaneFromFlags(flags: {
  name?: string;
  mesh?: string;
  address?: string;
  inbound?: string[];
}): DataplaneResource {
  if (!flags.name) throw new DataplaneSpecError('--name is required (or give --dataplane-file)');
  if (!flags.address) throw new DataplaneSpecError('--address is required (or give --dataplane-file)');
  if (!flags.inbound?.length)
    throw new DataplaneSpecError(
      'at least one --inbound port:servicePort:service is required (or give --dataplane-file)',
    );
  return {
    type: 'Dataplane',
    mesh: flags.mesh ?? 'default',
    name: flags.name,
    networking: { address: flags.address, inbound: flags.inbound.map(parseInbound) },
  };
}

/** A Dataplane manifest; `--name`/`--mesh` may fill in what it lacks, but must not contradict it. */
export function dataplaneFromFile(
  text: string,
  file: string,
  flags: { name?: string; mesh?: string } = {},
): DataplaneResource {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new DataplaneSpecError(`${file}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new DataplaneSpecError(`${file}: expected one Dataplane resource`);
  const dp = { ...(doc as Record<string, unknown>) };
  if (dp.type !== undefined && dp.type !== 'Dataplane')
    throw new DataplaneSpecError(`${file}: type is "${String(dp.type)}", expected Dataplane`);
  dp.type = 'Dataplane';
  for (const key of ['name', 'mesh'] as const) {
    const flag = flags[key];
    if (flag && dp[key] !== undefined && dp[key] !== flag)
      throw new DataplaneSpecError(`${file}: ${key} is "${String(dp[key])}" but --${key} says "${flag}"`);
    if (dp[key] === undefined) dp[key] = flag ?? (key === 'mesh' ? 'default' : undefined);
  }
  if (typeof dp.name !== 'string' || !dp.name)
    throw new DataplaneSpecError(`${file}: the Dataplane has no name (set it, or --name)`);
  delete dp.creationTime;
  delete dp.modificationTime;
  return dp as DataplaneResource;
}

/** The inbound port an `--serve` echo server listens on: the first inbound's `port`. */
export function servePort(dp: DataplaneResource): number {
  const port = dp.networking?.inbound?.[0]?.port;
  if (!port) throw new DataplaneSpecError('--serve needs an inbound port in the Dataplane');
  return port;
}
