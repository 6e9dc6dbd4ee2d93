/** `meshctl check`: findings from the rotation status of every mesh, for cron and CI. */
import { relativeTime, shortDuration, timestamp } from './format.js';
import { rotationTarget } from './rotation-view.js';
import type { RotationStatus } from './types.js';

export interface Finding {
  mesh: string;
  problem: boolean;
  message: string;
}

export function checkMesh(status: RotationStatus, now: number, windowMs: number): Finding[] {
  const mesh = status.mesh;
  const out: Finding[] = [];
  if (!status.mtlsEnabled) return [{ mesh, problem: false, message: 'mTLS off, no CA' }];
  if (status.error) out.push({ mesh, problem: true, message: `CA cannot be loaded: ${status.error}` });
  for (const backend of status.backends) {
    if (!backend.notAfter) continue;
    const notAfter = Date.parse(backend.notAfter);
    const what = `CA of backend ${backend.name} (${backend.type}${backend.enabled ? ', enabled' : ''})`;
    const when = `${timestamp(notAfter)} (${relativeTime(notAfter, now)})`;
    if (notAfter <= now) out.push({ mesh, problem: true, message: `${what} expired at ${when}` });
    else if (notAfter - now <= windowMs) {
      out.push({
        mesh,
        problem: true,
        message: `${what} expires at ${when}, within the ${shortDuration(windowMs)} window`,
      });
    } else out.push({ mesh, problem: false, message: `${what} valid until ${when}` });
  }
  const step = status.nextStep;
  if (step.action !== 'none') {
    const target = rotationTarget(status);
    const state = step.ready ? 'ready now' : `not ready: ${step.description}`;
    out.push({
      mesh,
      problem: true,
      message:
        `CA rotation half-done: enabled backend ${status.enabledBackend}, backends ${status.backends.map((b) => b.name).join(', ')}; ` +
        `next step ${step.action} ${step.backend} (${state})` +
        (target ? `; finish it with: meshctl rotate --mesh ${mesh} --to ${target}` : ''),
    });
  }
  return out;
}

export function renderFindings(findings: Finding[], meshCount: number): { text: string; problems: number } {
  const lines = findings.map((f) => `${f.problem ? 'FAIL' : 'ok  '} mesh ${f.mesh}: ${f.message}`);
  const problems = findings.filter((f) => f.problem).length;
  const meshesWithProblems = new Set(findings.filter((f) => f.problem).map((f) => f.mesh)).size;
  lines.push(
    problems === 0
      ? `all ${meshCount} mesh${meshCount === 1 ? '' : 'es'} OK`
      : `${problems} problem${problems === 1 ? '' : 's'} in ${meshesWithProblems} of ${meshCount} mesh${meshCount === 1 ? '' : 'es'}`,
  );
  return { text: lines.join('\n') + '\n', problems };
}
