/** Far above the bundle versions the meshes of one control plane serve at once (a few per mesh). */
const MAX_KNOWN = 10_000;

/**
 * Bundle versions seen recorded in the store (committed), so acknowledging one skips that read: every poll that
 * brings a new bundle and every certificate request acknowledges one. Bundle rows go only with their mesh; the owner
 * drops a mesh's entries on every change to it (here or on another instance). A version this instance still believes
 * recorded after another instance deleted the mesh can only be acknowledged by a dataplane of the re-created mesh,
 * where it names no bundle and so proves no trust (the rules count it as trusting nothing), as before.
 */
export class KnownBundles {
  private readonly keys = new Set<string>();

  has(mesh: string, version: string): boolean {
    return this.keys.has(`${mesh}\0${version}`);
  }

  add(mesh: string, version: string): void {
    if (this.keys.size >= MAX_KNOWN) this.keys.clear();
    this.keys.add(`${mesh}\0${version}`);
  }

  /** After a change to `mesh` ('*': any mesh). */
  forgetMesh(mesh: string): void {
    if (mesh === '*') return this.keys.clear();
    for (const key of this.keys) if (key.startsWith(`${mesh}\0`)) this.keys.delete(key);
  }
}
