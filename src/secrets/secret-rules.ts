import { pluginFor } from '../ca/backend-registry.js';
import { conflict, invalidResource, Titles } from '../domain/errors.js';
import { kindOf } from '../resources/kinds.js';
import type { Mesh } from '../resources/mesh.js';
import { decodeBase64Strict } from '../resources/secret.js';
import type { ParsedResource, ResourceDescriptor, WriteCheck } from '../resource-manager/resource-manager.js';
import type { ResourceStore } from '../store/resource-store.js';
import { identitiesUsing } from '../identity/identity-reads.js';

export interface SecretSpec {
  data?: string;
}

type SecretBody = { data?: string; labels?: Record<string, string> };
type ParsedSecret = ParsedResource & { spec: SecretSpec };

/** The data is stored as canonical standard base64, whatever alphabet was sent. */
function admitSecret(secret: SecretBody): ParsedSecret {
  const data = secret.data === undefined ? undefined : decodeBase64Strict(secret.data)!.toString('base64');
  return { spec: data === undefined ? {} : { data }, labels: secret.labels ?? {} };
}

/** Mesh secrets: one a CA backend reads cannot change content or go away (the mesh's dataplanes rely on it). */
export function secretDescriptor(): ResourceDescriptor<ParsedSecret, undefined, SecretBody> {
  /** Names of the backends of `mesh` (enabled or not) that read this secret. */
  const backendsUsing = async (resources: ResourceStore, mesh: string, secretName: string): Promise<string[]> =>
    ((await resources.get<Mesh>('Mesh', '', mesh))?.spec.mtls?.backends ?? [])
      .filter((backend) => pluginFor(backend.type).usedSecrets(mesh, backend).includes(secretName))
      .map((backend) => backend.name);
  return {
    kind: kindOf('Secret'),
    admit: admitSecret,
    async checkWrite({ tx, at, parsed, stored }: WriteCheck<ParsedSecret, undefined>) {
      if (!stored || ((stored.spec as SecretSpec).data ?? '') === (parsed.spec.data ?? '')) return;
      const identities = await identitiesUsing(tx.resources, at.mesh, at.name);
      if (identities.length > 0) {
        throw conflict(Titles.update, [
          {
            field: 'data',
            message: `The secret "${at.name}" holds the CA of MeshIdentity "${identities[0]}" in Mesh "${at.mesh}": replacing its content would swap the CA under running dataplanes. Create a new MeshIdentity with a new secret and move the dataplanes to it instead.`,
          },
        ]);
      }
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
      for (const identity of await identitiesUsing(tx.resources, at.mesh, at.name)) {
        violations.push({
          field: 'name',
          message: `The secret "${at.name}" that you are trying to remove holds the CA of MeshIdentity "${identity}" in Mesh "${at.mesh}". Please delete the MeshIdentity (or point it at another secret) before removing the secret.`,
        });
      }
      if (violations.length > 0) throw invalidResource(Titles.delete, violations);
    },
    // A mesh secret may hold CA material: caches and waiting long-polls of the mesh look again.
    meshChangedBy: (at) => at.mesh,
  };
}

/** Global secrets: no mesh, no CA reads them. */
export const globalSecretDescriptor: ResourceDescriptor<ParsedSecret, undefined, SecretBody> = {
  kind: kindOf('GlobalSecret'),
  admit: admitSecret,
};
