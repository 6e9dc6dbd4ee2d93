/**
 * The plan of `meshctl rotate`: from the stored mesh and its rotation status, the one next thing to do to reach
 * "only <target>, enabled". Pure and state-based, so an interrupted rotate picks up wherever the mesh is.
 *
 * Steps (numbered as in the CA rotation guide; step 1, adding the backend, is the operator's):
 *   2. enable <target> once every active dataplane trusts it (the server's rule 1)
 *   3. remove every other backend once no active dataplane holds a certificate from them (rule 2)
 */
import type { MeshResource, RotationStatus } from './types.js';

export type RotationPhase = 'enable' | 'remove';

export type RotationAction =
  | { kind: 'done'; message: string }
  | { kind: 'error'; message: string }
  | {
      kind: 'wait';
      phase: RotationPhase;
      /** Progress of the phase: dataplanes that are already where they must be, out of the active ones. */
      done: number;
      total: number;
      message: string;
      waitingFor?: { count: number; names: string[] };
    }
  | { kind: 'put'; phase: RotationPhase; mesh: MeshResource; message: string; removed?: string[] };

export const PHASE_TITLES: Record<RotationPhase, (target: string) => string> = {
  enable: (t) => `step 2/3: every dataplane trusts ${t}`,
  remove: (t) => `step 3/3: every dataplane re-issued by ${t}`,
};

/** The mesh as a PUT body: without the server-set times. */
export function meshBody(mesh: MeshResource): MeshResource {
  const { creationTime: _c, modificationTime: _m, ...rest } = mesh;
  return rest as MeshResource;
}

export function planRotation(mesh: MeshResource, status: RotationStatus, target: string): RotationAction {
  const enabled = mesh.mtls?.enabledBackend ?? '';
  const backends = mesh.mtls?.backends ?? [];
  if (!enabled) {
    return {
      kind: 'error',
      message: `mTLS is off in mesh "${mesh.name}": a rotation starts from a mesh with an enabled backend`,
    };
  }
  if (!backends.some((b) => b.name === target)) {
    return {
      kind: 'error',
      message:
        `backend "${target}" is not in mesh "${mesh.name}" (backends: ${backends.map((b) => b.name).join(', ')}): ` +
        `add it first (step 1 of the rotation), e.g. meshctl apply -f examples/1-add-ca-2.yaml`,
    };
  }
  const total = status.activeDataplanes;
  const targetStatus = status.backends.find((b) => b.name === target);

  if (enabled !== target) {
    if (!targetStatus) {
      return {
        kind: 'wait',
        phase: 'enable',
        done: 0,
        total,
        message: `waiting for the control plane to report backend "${target}"`,
      };
    }
    if (!targetStatus.rootFingerprint) {
      return {
        kind: 'error',
        message: `the CA of backend "${target}" cannot be loaded${status.error ? `: ${status.error}` : ''}`,
      };
    }
    const trusting = targetStatus.dataplanesTrusting;
    if (trusting >= total) {
      const body = meshBody(mesh);
      return {
        kind: 'put',
        phase: 'enable',
        mesh: { ...body, mtls: { ...body.mtls, enabledBackend: target } },
        message: `enable ${target} (was ${enabled})`,
      };
    }
    const step = status.nextStep;
    return {
      kind: 'wait',
      phase: 'enable',
      done: trusting,
      total,
      message: `${total - trusting} of ${total} active dataplanes do not trust ${target} yet`,
      ...(step.action === 'enable' && step.backend === target && step.waitingFor
        ? { waitingFor: step.waitingFor }
        : {}),
    };
  }

  const others = backends.filter((b) => b.name !== target).map((b) => b.name);
  if (others.length === 0)
    return { kind: 'done', message: `${target} is enabled and the only backend of mesh "${mesh.name}"` };
  const stillIssued = status.backends
    .filter((b) => others.includes(b.name))
    .reduce((sum, b) => sum + b.dataplanesIssued, 0);
  if (stillIssued === 0) {
    const body = meshBody(mesh);
    return {
      kind: 'put',
      phase: 'remove',
      mesh: {
        ...body,
        mtls: { ...body.mtls, enabledBackend: target, backends: backends.filter((b) => b.name === target) },
      },
      message: `remove ${others.join(', ')}`,
      removed: others,
    };
  }
  const step = status.nextStep;
  return {
    kind: 'wait',
    phase: 'remove',
    done: Math.max(0, total - stillIssued),
    total,
    message: `${stillIssued} of ${total} active dataplanes still hold a certificate from ${others.join(', ')}`,
    ...(step.action === 'remove' && step.waitingFor ? { waitingFor: step.waitingFor } : {}),
  };
}
