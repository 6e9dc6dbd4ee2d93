import { z } from 'zod';
import type { ViolationList } from './violations.js';

/**
 * Kuma's SecureDataSource (`api/common/v1alpha1/datasource`): where the control plane reads a secret value from.
 * The schema layer types the members; the checks (the type, what each type needs) answer in Kuma's validator words.
 */
export const SecureDataSourceSchema = z.object({
  type: z.string().meta({ description: 'File | Secret | EnvVar | InsecureInline' }),
  file: z.object({ path: z.string().optional() }).optional(),
  secretRef: z.object({ kind: z.string().optional(), name: z.string().optional() }).optional(),
  envVar: z.object({ name: z.string().optional() }).optional(),
  insecureInline: z.object({ value: z.string().optional() }).optional(),
});
export type SecureDataSource = z.output<typeof SecureDataSourceSchema>;

const TYPES = ['EnvVar', 'InsecureInline', 'File', 'Secret'];

/** Kuma's `ValidateSecureDataSource`, under `at`. */
export function validateSecureDataSource(source: SecureDataSource, at: ViolationList): void {
  switch (source.type) {
    case 'EnvVar':
      if (!source.envVar) at.add('envVar', 'must be defined');
      else if (!source.envVar.name) at.add('envVar.name', 'must be defined');
      return;
    case 'InsecureInline':
      if (!source.insecureInline) at.add('insecureInline', 'must be defined');
      else if (!source.insecureInline.value) at.add('insecureInline.value', 'must be defined');
      return;
    case 'File': {
      const path = source.file?.path;
      if (!source.file) at.add('file', 'must be defined');
      else if (!path) at.add('file.path', 'must be defined');
      else if (path.includes('..')) at.add('file.path', `file path contains directory traversal sequence: ${path}`);
      else if (!path.startsWith('/')) at.add('file.path', `file path must be absolute: ${path}`);
      return;
    }
    case 'Secret':
      if (!source.secretRef) {
        at.add('secretRef', 'must be defined');
        return;
      }
      if (source.secretRef.kind !== 'Secret')
        at.add('secretRef.kind', `${source.secretRef.kind ?? ''} must be one of: Secret`);
      if (!source.secretRef.name) at.add('secretRef.name', 'must be defined');
      return;
    default:
      at.add('type', `${source.type} must be one of: ${TYPES.join(', ')}`);
  }
}
