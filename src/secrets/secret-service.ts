import { pluginFor } from '../ca/backend-registry.js';
import { invalidRequest, conflict, invalidResource, Titles } from '../domain/errors.js';
import type { Mesh } from '../resources/mesh.js';
import { checkResourceRequest } from '../resources/request-checks.js';
import { GlobalSecretSchema, SecretSchema, decodeBase64Strict } from '../resources/secret.js';
import { describeShapeError, parseShape } from '../resources/violations.js';
import type { ParsedResource, ResourceAt, ResourceDescriptor, WriteCheck } from '../services/resource-manager.js';
import type { ResourceStore } from '../store/resource-store.js';

export type SecretKind = 'Secret' | 'GlobalSecret';
export interface SecretSpec {
  data?: string;
}

/** Parses a Secret or GlobalSecret body; the data is stored as canonical standard base64, whatever alphabet was sent. */
function parseSecret(kind: SecretKind, at: ResourceAt, body: unknown): ParsedResource & { spec: SecretSpec } {
  const shape = parseShape(kind === 'Secret' ? SecretSchema : GlobalSecretSchema, body);
  if (!shape.ok) throw invalidRequest(describeShapeError(kind, shape.violations), shape.violations);
  const secret = shape.value;
  const violations = checkResourceRequest(
    kind === 'Secret' ? { type: kind, name: at.name, mesh: at.mesh } : { type: kind, name: at.name },
    secret as { type: string; name: string; mesh?: string; labels?: Record<string, string> },
  );
  if (violations.length > 0) throw invalidResource(Titles.process, violations);
  const data = secret.data === undefined ? undefined : decodeBase64Strict(secret.data)!.toString('base64');
  return { spec: data === undefined ? {} : { data }, labels: secret.labels ?? {} };
}

/** Mesh secrets: one a CA backend reads cannot change content or go away (the mesh's dataplanes rely on it). */
export function secretDescriptor(): ResourceDescriptor<ParsedResource & { spec: SecretSpec }> {
  /** Names of the backends of `mesh` (enabled or not) that read this secret. */
  const backendsUsing = async (resources: ResourceStore, mesh: string, secretName: string): Promise<string[]> =>
    ((await resources.get<Mesh>('Mesh', '', mesh))?.spec.mtls?.backends ?? [])
      .filter((backend) => pluginFor(backend.type).usedSecrets(mesh, backend).includes(secretName))
      .map((backend) => backend.name);
  return {
    type: 'Secret',
    scope: 'mesh',
    computedLabels: true,
    parse: (at, body) => parseSecret('Secret', at, body),
    async checkWrite({ tx, at, parsed, stored }: WriteCheck<ParsedResource & { spec: SecretSpec }, undefined>) {
      if (!stored || ((stored.spec as SecretSpec).data ?? '') === (parsed.spec.data ?? '')) return;
      const users = await backendsUsing(tx.resources, at.mesh, at.name);
      if (users.length > 0) {
        throw conflict(Titles.update, [
          {
            field: 'data',
            message: `The secret "${at.name}" is used in Mesh "${at.mesh}" by mTLS backend "${users[0]}": replacing its content would swap the CA under running dataplanes. Add a backend with a new secret and rotate to it instead.`,
          },
        ]);
      }
    },
    async checkDelete(tx, at) {
      const violations = (await backendsUsing(tx.resources, at.mesh, at.name)).map((backend) => ({
        field: 'name',
        message: `The secret "${at.name}" that you are trying to remove is currently in use in Mesh "${at.mesh}" in mTLS backend "${backend}". Please remove the reference from the "${backend}" backend before removing the secret.`,
      }));
      if (violations.length > 0) throw invalidResource(Titles.delete, violations);
    },
    // A mesh secret may hold CA material: caches and waiting long-polls of the mesh look again.
    meshChangedBy: (at) => at.mesh,
  };
}

/** Global secrets: no mesh, no CA reads them. */
export const globalSecretDescriptor: ResourceDescriptor<ParsedResource & { spec: SecretSpec }> = {
  type: 'GlobalSecret',
  scope: 'global',
  computedLabels: true,
  parse: (at, body) => parseSecret('GlobalSecret', at, body),
};
