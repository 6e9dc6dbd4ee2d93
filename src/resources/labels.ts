import { z } from 'zod';
import { RFC1123_SUBDOMAIN } from './names.js';
import { mapKey, type Violation } from './violations.js';

/** Labels are a flat string map, as Kuma's resource meta. */
export const LabelsSchema = z.record(z.string(), z.string());
export type Labels = z.infer<typeof LabelsSchema>;

export const DISPLAY_NAME_LABEL = 'kuma.io/display-name';
export const MESH_LABEL = 'kuma.io/mesh';
export const ORIGIN_LABEL = 'kuma.io/origin';
export const ZONE_LABEL = 'kuma.io/zone';
export const ENV_LABEL = 'kuma.io/env';
export const PROXY_TYPE_LABEL = 'kuma.io/proxy-type';
export const ORIGIN_VALUES: readonly string[] = ['zone', 'global'];

// Kubernetes label syntax (k8s.io/apimachinery/pkg/util/validation), which Kuma applies to labels.
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QUALIFIED_NAME = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const QUALIFIED_NAME_MAX = 63;
const QUALIFIED_NAME_ERR =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?';
const LABEL_VALUE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const LABEL_VALUE_MAX = 63;
const LABEL_VALUE_ERR =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const DNS1123_SUBDOMAIN_ERR =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

function regexError(message: string, fmt: string, ...examples: string[]): string {
  return `${message} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}

/** Kubernetes `IsQualifiedName`: `[prefix/]name`, the prefix a DNS subdomain, the name at most 63 characters. */
export function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0]!;
  } else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else {
      if (prefix.length > 253) errs.push('prefix part must be no more than 253 characters');
      if (!RFC1123_SUBDOMAIN.test(prefix)) {
        errs.push(`prefix part ${regexError(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, 'example.com')}`);
      }
    }
  } else {
    return [
      `a qualified name ${regexError(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}` +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > QUALIFIED_NAME_MAX)
    errs.push(`name part must be no more than ${QUALIFIED_NAME_MAX} characters`);
  if (!QUALIFIED_NAME.test(name)) {
    errs.push(`name part ${regexError(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  }
  return errs;
}

/** Kubernetes `IsValidLabelValue`: empty, or at most 63 alphanumerics, '-', '_', '.', alphanumeric at both ends. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > LABEL_VALUE_MAX) errs.push(`must be no more than ${LABEL_VALUE_MAX} characters`);
  if (!LABEL_VALUE.test(value)) errs.push(regexError(LABEL_VALUE_ERR, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  return errs;
}

export const WORKLOAD_LABEL = 'kuma.io/workload';
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const DNS1035_LABEL = new RegExp(`^${DNS1035_LABEL_FMT}$`);
const DNS1035_LABEL_ERR =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

/**
 * Kuma's extra check on a Universal Dataplane's `kuma.io/workload` label (a Kubernetes DNS-1035 label), answered,
 * as Kuma, as a plain Bad Request whose detail is this text; undefined when the label is absent, empty or valid.
 */
export function workloadLabelProblem(labels: Readonly<Record<string, string>> | undefined): string | undefined {
  const value = labels?.[WORKLOAD_LABEL];
  if (!value) return undefined;
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!DNS1035_LABEL.test(value)) errs.push(regexError(DNS1035_LABEL_ERR, DNS1035_LABEL_FMT, 'my-name', 'abc-123'));
  if (errs.length === 0) return undefined;
  return `bad request: labels["${WORKLOAD_LABEL}"]: must be a valid DNS-1035 label (at most 63 characters, matching regex ${DNS1035_LABEL_FMT}): ${errs.join('; ')}`;
}

export interface LabelContext {
  /** The resource's mesh ('' or undefined for global resources): a `kuma.io/mesh` label must equal it. */
  mesh?: string;
  /** The CP zone: a `kuma.io/zone` label must equal it when given. */
  zone?: string;
}

/**
 * Label checks on PUT, in Kuma 2.14's order and wording (fields `labels["k"]`): the origin label's value, then
 * (unless the origin is `global`) `kuma.io/zone` naming this zone and `kuma.io/mesh` naming the resource's mesh,
 * then Kubernetes key and value syntax for every label, keys sorted.
 */
export function validateLabels(
  labels: Readonly<Record<string, string>> | undefined,
  ctx: LabelContext = {},
): Violation[] {
  const out: Violation[] = [];
  if (!labels) return out;
  const origin = labels[ORIGIN_LABEL];
  if (origin !== undefined && !ORIGIN_VALUES.includes(origin)) {
    out.push({ field: `labels${mapKey(ORIGIN_LABEL)}`, message: `unknown resource origin ${JSON.stringify(origin)}` });
  }
  if (origin !== 'global') {
    const zone = labels[ZONE_LABEL];
    if (zone !== undefined && ctx.zone !== undefined && zone !== ctx.zone) {
      out.push({ field: `labels${mapKey(ZONE_LABEL)}`, message: `${ZONE_LABEL} label should have ${ctx.zone} value` });
    }
    const mesh = labels[MESH_LABEL];
    if (mesh !== undefined && mesh !== (ctx.mesh ?? '')) {
      out.push({
        field: `labels${mapKey(MESH_LABEL)}`,
        message: `${MESH_LABEL} label must not differ from mesh set on resource`,
      });
    }
  }
  for (const key of Object.keys(labels).sort()) {
    const field = `labels${mapKey(key)}`;
    for (const message of qualifiedNameErrors(key)) out.push({ field, message });
    for (const message of labelValueErrors(labels[key]!)) out.push({ field, message });
  }
  return out;
}

/** Parsed `filter[labels.<key>]=<value>` query parameters. */
export interface LabelFilterResult {
  filters: Map<string, string>;
  violations: Violation[];
}

const FILTER_PARAM = /^filter\[(.*)\]$/s;

/**
 * Reads `filter[...]` query parameters as Kuma: only `filter[labels.<key>]` is supported (exact match);
 * `filter[x]` gives `filters are only supported on labels`, `filter[labels.a][eq]` gives
 * `advanced filters are not supported`. The field is `<routePath>.filter[...]`. A repeated parameter uses its last value.
 */
export function parseLabelFilters(query: Readonly<Record<string, unknown>>, routePath: string): LabelFilterResult {
  const filters = new Map<string, string>();
  const violations: Violation[] = [];
  for (const [param, raw] of Object.entries(query)) {
    if (!param.startsWith('filter[')) continue;
    const field = `${routePath}.${param}`;
    const match = FILTER_PARAM.exec(param);
    const inner = match ? match[1]! : '';
    if (match === null || inner.includes('][') || inner.includes('[') || inner.includes(']')) {
      violations.push({ field, message: 'advanced filters are not supported' });
      continue;
    }
    if (!inner.startsWith('labels.') || inner.length === 'labels.'.length) {
      violations.push({ field, message: 'filters are only supported on labels' });
      continue;
    }
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    filters.set(inner.slice('labels.'.length), value === undefined || value === null ? '' : String(value));
  }
  return { filters, violations };
}

/** True when every filter matches a label exactly. */
export function matchesLabelFilters(
  labels: Readonly<Record<string, string>> | undefined,
  filters: ReadonlyMap<string, string>,
): boolean {
  for (const [key, value] of filters) {
    if (labels?.[key] !== value) return false;
  }
  return true;
}
