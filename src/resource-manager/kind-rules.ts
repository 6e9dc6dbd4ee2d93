import { KINDS, type ResourceType } from '../resources/kinds.js';
import {
  plainDescriptor,
  type ResourceDescriptor,
  type ResourceHandle,
  type ResourceManager,
} from './resource-manager.js';

/**
 * The kinds whose writes need rules that read the store or the CA (a Mesh's rotation rules, a secret in use, a
 * dataplane's token); every other kind of the table is written with its table entry alone.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each descriptor types its own body and parse result
export type KindRules = Partial<Record<ResourceType, ResourceDescriptor<any, any, any>>>;

/** One handle per kind of the kinds table, through its rules or, without any, its table entry. */
export function kindHandles(
  resources: ResourceManager,
  rules: KindRules,
): Record<ResourceType, ResourceHandle<object>> {
  return Object.fromEntries(
    KINDS.map((kind) => [kind.type, resources.handle(rules[kind.type] ?? plainDescriptor(kind))]),
  ) as Record<ResourceType, ResourceHandle<object>>;
}
