import { STORED_KINDS, type ResourceType } from '../resources/kinds.js';
import {
  plainDescriptor,
  type ParsedResource,
  type ResourceDescriptor,
  type ResourceHandle,
  type ResourceManager,
} from './resource-manager.js';

/**
 * The kinds whose writes need rules that read the store or the CA (a Mesh's rotation rules, a secret in use, a
 * dataplane's token); every other kind of the table is written with its table entry alone.
 */
export type KindRules = Partial<Record<ResourceType, ResourceDescriptor<ParsedResource, unknown, never>>>;

/** One handle per kind of the kinds table, through its rules or, without any, its table entry. */
export function kindHandles(
  resources: ResourceManager,
  rules: KindRules,
): Record<ResourceType, ResourceHandle<object>> {
  return Object.fromEntries(
    STORED_KINDS.map((kind) => [kind.type, resources.handle(rules[kind.type] ?? plainDescriptor(kind))]),
  ) as Record<ResourceType, ResourceHandle<object>>;
}
