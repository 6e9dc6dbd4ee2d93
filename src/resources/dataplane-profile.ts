import { dataplaneServices, type Dataplane } from './dataplane.js';

/** Kuma's kinds of dataplane as its insights count them (`dataplanesByType`). */
export type InsightProxyType = 'standard' | 'gatewayBuiltin' | 'gatewayDelegated';
export const INSIGHT_PROXY_TYPES: readonly InsightProxyType[] = ['standard', 'gatewayBuiltin', 'gatewayDelegated'];

/** What the insights count of one Dataplane: its kind and its services (sorted, distinct, non-empty). */
export interface DataplaneProfile {
  proxyType: InsightProxyType;
  services: string[];
}

export function dataplaneProfile(dp: Pick<Dataplane, 'networking'>): DataplaneProfile {
  const gateway = dp.networking?.gateway;
  const proxyType: InsightProxyType =
    gateway === undefined ? 'standard' : gateway.type === 'BUILTIN' ? 'gatewayBuiltin' : 'gatewayDelegated';
  return { proxyType, services: dataplaneServices(dp as Dataplane).filter((s) => s !== '') };
}

/** The count changes one write makes: +1 for what the new profile names, -1 for what the old one named. */
export function profileCountChanges(
  before: DataplaneProfile | undefined,
  after: DataplaneProfile | undefined,
): { kind: string; key: string; delta: number }[] {
  const deltas = new Map<string, { kind: string; key: string; delta: number }>();
  const add = (p: DataplaneProfile | undefined, delta: number) => {
    if (!p) return;
    const entries = [
      { kind: 'type', key: p.proxyType },
      ...p.services.map((s) => ({ kind: `service:${p.proxyType}`, key: s })),
    ];
    for (const e of entries) {
      const id = `${e.kind}\n${e.key}`;
      const current = deltas.get(id) ?? { ...e, delta: 0 };
      current.delta += delta;
      deltas.set(id, current);
    }
  };
  add(before, -1);
  add(after, +1);
  return [...deltas.values()].filter((d) => d.delta !== 0);
}
