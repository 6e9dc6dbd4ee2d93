/** Pure output formatting: tables, durations, resource rows, yaml/json. */
import { stringify } from 'yaml';
import type { DataplaneOverview, MeshBackend } from './types.js';
import type { ResourceType } from './resources.js';

export type OutputFormat = 'table' | 'yaml' | 'json';

export function parseOutputFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'yaml' || value === 'json') return value;
  throw new Error(`output format must be table, yaml or json, got "${value}"`);
}

/** Left-aligned columns separated by three spaces (as kumactl), header in upper case. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

const UNITS: [string, number][] = [
  ['y', 365 * 86_400_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** A short human duration with at most two units: `10y`, `3d4h`, `23h59m`, `45s`, `0s`. */
export function shortDuration(ms: number): string {
  let rest = Math.max(0, Math.floor(Math.abs(ms) / 1000) * 1000);
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    if (parts.length === 2) break;
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) {
      if (n > 0) parts.push(`${n}${unit}`);
      else if (parts.length > 0) break;
      rest -= n * size;
    }
  }
  return parts.length ? parts.join('') : '0s';
}

/** `in 3d4h` or `2h ago`. */
export function relativeTime(iso: string | number, now: number): string {
  const at = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(at)) return '-';
  const delta = at - now;
  return delta >= 0 ? `in ${shortDuration(delta)}` : `${shortDuration(-delta)} ago`;
}

export function age(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const at = Date.parse(iso);
  return Number.isFinite(at) ? shortDuration(Math.max(0, now - at)) : '-';
}

/** `2026-11-28 04:03:20 UTC` */
export function timestamp(iso: string | number): string {
  const d = new Date(iso);
  if (!Number.isFinite(d.getTime())) return '-';
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

type Item = Record<string, unknown>;

function backendsOf(item: Item): MeshBackend[] {
  const mtls = item.mtls as { backends?: MeshBackend[] } | undefined;
  return mtls?.backends ?? [];
}

function servicesOf(item: Item): string {
  const networking = (item.networking ??
    (item.dataplane as Item | undefined)?.networking) as DataplaneOverview['dataplane']['networking'];
  const services = new Set<string>();
  for (const inbound of networking?.inbound ?? []) {
    const service = inbound.tags?.['kuma.io/service'];
    if (service) services.add(service);
  }
  const gateway = networking?.gateway?.tags?.['kuma.io/service'];
  if (gateway) services.add(gateway);
  return [...services].join(',') || '-';
}

function providerOf(identity: Item): string {
  return (identity.spec as { provider?: { type?: string } } | undefined)?.provider?.type ?? '-';
}

/** A MeshIdentity's Ready condition: `True`, or `False (<reason>)`. */
function readyOf(identity: Item): string {
  const conditions =
    (identity.status as { conditions?: { type: string; status: string; reason: string }[] } | undefined)?.conditions ??
    [];
  const ready = conditions.find((c) => c.type === 'Ready');
  if (!ready) return '-';
  return ready.status === 'True' ? 'True' : `${ready.status} (${ready.reason})`;
}

/** The table of `meshctl get <type>`. */
export function resourceTable(type: ResourceType, items: Item[], now: number, showMesh: boolean): string {
  switch (type.kind) {
    case 'Mesh':
      return renderTable(
        ['NAME', 'MTLS', 'BACKENDS', 'AGE'],
        items.map((m) => {
          const enabled = (m.mtls as { enabledBackend?: string } | undefined)?.enabledBackend;
          const backends = backendsOf(m)
            .map((b) => `${b.name}(${b.type})`)
            .join(',');
          return [
            String(m.name),
            enabled ? `on: ${enabled}` : 'off',
            backends || '-',
            age(m.creationTime as string, now),
          ];
        }),
      );
    case 'Dataplane':
      return renderTable(
        [...(showMesh ? ['MESH'] : []), 'NAME', 'ADDRESS', 'SERVICES', 'AGE'],
        items.map((d) => [
          ...(showMesh ? [String(d.mesh)] : []),
          String(d.name),
          String((d.networking as { address?: string } | undefined)?.address ?? '-'),
          servicesOf(d),
          age(d.creationTime as string, now),
        ]),
      );
    case 'MeshIdentity':
      return renderTable(
        [...(showMesh ? ['MESH'] : []), 'NAME', 'PROVIDER', 'READY', 'AGE'],
        items.map((i) => [
          ...(showMesh ? [String(i.mesh)] : []),
          String(i.name),
          providerOf(i),
          readyOf(i),
          age(i.creationTime as string, now),
        ]),
      );
    case 'MeshTrust':
      return renderTable(
        [...(showMesh ? ['MESH'] : []), 'NAME', 'TRUST DOMAIN', 'CAS', 'AGE'],
        items.map((m) => {
          const spec = (m.spec ?? {}) as { trustDomain?: string; caBundles?: unknown[] };
          return [
            ...(showMesh ? [String(m.mesh)] : []),
            String(m.name),
            spec.trustDomain ?? '-',
            String(spec.caBundles?.length ?? 0),
            age(m.creationTime as string, now),
          ];
        }),
      );
    default:
      return renderTable(
        [...(showMesh ? ['MESH'] : []), 'NAME', 'AGE'],
        items.map((s) => [...(showMesh ? [String(s.mesh)] : []), String(s.name), age(s.creationTime as string, now)]),
      );
  }
}

/** `meshctl inspect dataplanes`: certificate and trust as the CP knows them. */
export function dataplaneInsightTable(items: DataplaneOverview[], now: number): string {
  return renderTable(
    [
      'MESH',
      'NAME',
      'SERVICES',
      'ISSUED BACKEND',
      'TRUSTED BACKENDS',
      'CERT EXPIRES',
      'REGENERATIONS',
      'LAST REGENERATION',
    ],
    items.map((o) => {
      const mtls = o.dataplaneInsight?.mTLS;
      const expiry = mtls?.certificateExpirationTime;
      return [
        o.mesh,
        o.name,
        servicesOf(o as unknown as Item),
        mtls?.issuedBackend ?? '-',
        mtls?.supportedBackends?.length ? mtls.supportedBackends.join(',') : '-',
        expiry ? `${timestamp(expiry)} (${relativeTime(expiry, now)})` : '-',
        String(mtls?.certificateRegenerations ?? 0),
        mtls?.lastCertificateRegeneration ? relativeTime(mtls.lastCertificateRegeneration, now) : '-',
      ];
    }),
  );
}
