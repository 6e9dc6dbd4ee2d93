/** `meshctl rotate`: the loop around the rotation plan, with injectable I/O so tests can drive it. */
import { ApiCallError } from '../../client/http.js';
import { progressLine } from '../progress.js';
import { PHASE_TITLES, planRotation, type RotationPhase } from '../rotation-plan.js';
import { shortDuration } from '../format.js';
import type { MeshResource, RotationStatus } from '../types.js';

export interface RotateDeps {
  getMesh(mesh: string): Promise<MeshResource>;
  getStatus(mesh: string): Promise<RotationStatus>;
  putMesh(mesh: MeshResource): Promise<void>;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export interface RotateUi {
  /** A permanent line. */
  log(line: string): void;
  /** The transient progress line. */
  progress(line: string): void;
}

export interface RotateOptions {
  mesh: string;
  target: string;
  timeoutMs: number;
  intervalMs: number;
}

export type RotateResult = { ok: true; message: string } | { ok: false; message: string; lines?: string[] };

function waitingSuffix(waitingFor: { count: number; names: string[] } | undefined): string {
  if (!waitingFor || waitingFor.count === 0) return '';
  const more = waitingFor.count - waitingFor.names.length;
  return ` waiting for: ${waitingFor.names.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/** Walks steps 2 and 3 until done, an error, or the timeout. */
export async function runRotate(deps: RotateDeps, ui: RotateUi, options: RotateOptions): Promise<RotateResult> {
  const { mesh: meshName, target } = options;
  const deadline = deps.now() + options.timeoutMs;
  let phase: RotationPhase | undefined;
  let first = true;
  const enterPhase = (next: RotationPhase) => {
    if (phase !== next) ui.log(PHASE_TITLES[next](target));
    phase = next;
  };
  const title = (p: RotationPhase) => (p === 'enable' ? `trust ${target}` : `re-issued by ${target}`);

  for (;;) {
    const mesh = await deps.getMesh(meshName);
    const status = await deps.getStatus(meshName);
    if (first) {
      const backends = (mesh.mtls?.backends ?? []).map((b) => b.name).join(', ') || 'none';
      ui.log(
        `mesh ${meshName}: enabled backend ${mesh.mtls?.enabledBackend || '(mTLS off)'}, backends ${backends}, ${status.activeDataplanes} active dataplanes; rotating to ${target}`,
      );
      first = false;
    }
    const action = planRotation(mesh, status, target);
    switch (action.kind) {
      case 'done':
        return { ok: true, message: `rotation to ${target} complete: ${action.message}` };
      case 'error':
        return { ok: false, message: action.message };
      case 'wait': {
        enterPhase(action.phase);
        ui.progress(
          `${progressLine(title(action.phase), action.done, action.total)}${waitingSuffix(action.waitingFor)}`,
        );
        if (deps.now() >= deadline) {
          return {
            ok: false,
            message:
              `timed out after ${shortDuration(options.timeoutMs)} in ${PHASE_TITLES[action.phase](target)}: ${action.message}` +
              (action.waitingFor ? `;${waitingSuffix(action.waitingFor)}` : '') +
              `. Run the same command again to continue from here.`,
          };
        }
        await deps.sleep(options.intervalMs);
        break;
      }
      case 'put': {
        enterPhase(action.phase);
        ui.progress(progressLine(title(action.phase), status.activeDataplanes, status.activeDataplanes));
        try {
          await deps.putMesh(action.mesh);
        } catch (err) {
          // Rules 1 and 2 can still refuse (a dataplane joined since the status was read): 409 + Retry-After.
          if (
            err instanceof ApiCallError &&
            err.status === 409 &&
            err.retryAfterSeconds !== undefined &&
            deps.now() < deadline
          ) {
            ui.log(`the control plane refused to ${action.message} for now, waiting: ${err.lines.join('; ')}`);
            await deps.sleep(Math.min(err.retryAfterSeconds * 1000, options.intervalMs * 2));
            break;
          }
          if (err instanceof ApiCallError)
            return { ok: false, message: `the control plane refused to ${action.message}:`, lines: err.lines };
          throw err;
        }
        ui.log(action.phase === 'enable' ? `✓ enabled ${target}` : `✓ removed ${action.removed?.join(', ')}`);
        break;
      }
    }
  }
}
