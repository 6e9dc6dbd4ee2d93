import { DISPLAY_NAME_LABEL, ZONE_LABEL } from './labels.js';

/** Kuma's resource identifier: `kri_<short name>_<mesh>_<zone>_<namespace>_<name>_<section>`. */
interface Kri {
  shortName: string;
  mesh: string;
  zone: string;
  namespace: string;
  name: string;
  section: string;
}

const NAMESPACE_LABEL = 'k8s.kuma.io/namespace';

/** The KRI of a stored resource, as Kuma computes it from its meta (zone and namespace labels, display name). */
export function kriOf(shortName: string, mesh: string, name: string, labels: Readonly<Record<string, string>>): string {
  const display = labels[DISPLAY_NAME_LABEL] ?? name;
  return `kri_${shortName}_${mesh}_${labels[ZONE_LABEL] ?? ''}_${labels[NAMESPACE_LABEL] ?? ''}_${display}_`;
}

/** Parses a KRI as Kuma does; the error is Kuma's text (`invalid identifier string: "x"`). */
export function parseKri(
  text: string,
  knownShortNames: readonly string[],
): { ok: true; kri: Kri } | { ok: false; error: string } {
  const parts = text.split('_');
  if (parts.length < 7) return { ok: false, error: `invalid identifier string: ${JSON.stringify(text)}` };
  if (parts[0] !== 'kri') return { ok: false, error: `identifier must start with 'kri': ${JSON.stringify(text)}` };
  if (!knownShortNames.includes(parts[1]!))
    return { ok: false, error: `unknown short name of resource type: ${JSON.stringify(parts[1])}` };
  return {
    ok: true,
    kri: {
      shortName: parts[1]!,
      mesh: parts[2]!,
      zone: parts[3]!,
      namespace: parts[4]!,
      name: parts[5]!,
      section: parts.slice(6).join(''),
    },
  };
}
