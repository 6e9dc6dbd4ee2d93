/** The text of `meshctl rotation status`: backends, progress bars, next step. */
import { relativeTime, renderTable, timestamp } from './format.js';
import { progressLine, type BarStyle, UNICODE_BAR } from './progress.js';
import type { RotationStatus } from './types.js';

/** The backend the mesh is rotating to: the one to enable, or the enabled one while an old one remains. */
export function rotationTarget(status: RotationStatus): string | undefined {
  if (status.nextStep.action === 'enable') return status.nextStep.backend;
  return status.enabledBackend ?? undefined;
}

export function shortFingerprint(fp: string | null): string {
  if (!fp) return '-';
  const parts = fp.split(':');
  return parts.length > 6 ? `${parts.slice(0, 4).join(':')}…${parts.slice(-2).join(':')}` : fp;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function waitingLine(status: RotationStatus): string | undefined {
  const waiting = status.nextStep.waitingFor;
  if (!waiting || waiting.count === 0) return undefined;
  const more = waiting.count - waiting.names.length;
  return `waiting for: ${waiting.names.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/** The two bars: how many active dataplanes trust the target, and how many hold its certificates. */
export function progressLines(status: RotationStatus, style: BarStyle = UNICODE_BAR): string[] {
  const target = rotationTarget(status);
  const backend = status.backends.find((b) => b.name === target);
  if (!target || !backend) return [];
  const labels = [`trust ${target}`, `re-issued by ${target}`];
  const width = Math.max(...labels.map((l) => l.length));
  return [
    progressLine(labels[0], backend.dataplanesTrusting, status.activeDataplanes, width, style),
    progressLine(labels[1], backend.dataplanesIssued, status.activeDataplanes, width, style),
  ];
}

export function nextStepLines(status: RotationStatus): string[] {
  const step = status.nextStep;
  if (step.action === 'none') return [`Next step: none (${step.description})`];
  const lines = [
    `Next step: ${step.action} ${step.backend} (${step.ready ? 'ready' : 'not ready'})`,
    `  ${step.description}`,
  ];
  const waiting = waitingLine(status);
  if (waiting) lines.push(`  ${waiting}`);
  const target = rotationTarget(status);
  if (step.ready && target) lines.push(`  run: meshctl rotate --mesh ${status.mesh} --to ${target}`);
  return lines;
}

export function renderRotationStatus(status: RotationStatus, now: number, style: BarStyle = UNICODE_BAR): string {
  const out: string[] = [];
  if (!status.mtlsEnabled) {
    out.push(`Mesh "${status.mesh}": mTLS is off, no CA to rotate`);
    return out.join('\n') + '\n';
  }
  out.push(
    `Mesh "${status.mesh}": mTLS on, enabled backend ${status.enabledBackend}, ${plural(status.activeDataplanes, 'active dataplane')}` +
      (status.bundleVersion ? `, bundle ${status.bundleVersion}` : ''),
  );
  if (status.error) out.push(`CA error: ${status.error}`);
  out.push('');
  out.push(
    renderTable(
      ['BACKEND', 'TYPE', 'ENABLED', 'ISSUED', 'TRUSTING', 'CA EXPIRES', 'ROOT SHA-256'],
      status.backends.map((b) => [
        b.name,
        b.type,
        b.enabled ? 'yes' : 'no',
        `${b.dataplanesIssued}/${status.activeDataplanes}`,
        `${b.dataplanesTrusting}/${status.activeDataplanes}`,
        b.notAfter ? `${timestamp(b.notAfter)} (${relativeTime(b.notAfter, now)})` : '-',
        shortFingerprint(b.rootFingerprint),
      ]),
    ).trimEnd(),
  );
  const bars = progressLines(status, style);
  if (bars.length) out.push('', ...bars);
  out.push('', ...nextStepLines(status));
  return out.join('\n') + '\n';
}
