/**
 * The top self-time functions of V8 .cpuprofile files (`node --cpu-prof`): `npx tsx bench/cpuprofile-top.ts <file or
 * dir> [count]`. Each file is one thread (the main thread and every signing worker write their own); self time is
 * summed per function and place, so a hot spot shows as one line with its share of the thread's samples.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function top(file: string, count: number): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMicros = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byNode.get(id)!;
    const delta = profile.timeDeltas[i] ?? 0;
    const url = node.callFrame.url.replace(/^file:\/\//, '');
    const key = `${node.callFrame.functionName || '(anonymous)'}  ${url ? `${relative(process.cwd(), url)}:${node.callFrame.lineNumber + 1}` : ''}`;
    selfMicros.set(key, (selfMicros.get(key) ?? 0) + delta);
    total += delta;
  });
  const idle = selfMicros.get('(idle)  ') ?? 0;
  const busy = total - idle;
  const rows = [...selfMicros.entries()]
    .filter(([k]) => k !== '(idle)  ')
    .sort((a, b) => b[1] - a[1])
    .slice(0, count);
  return [
    `${file}: ${(busy / 1000).toFixed(0)} ms busy of ${(total / 1000).toFixed(0)} ms`,
    ...rows.map(
      ([k, us]) =>
        `  ${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`,
    ),
  ];
}

const [target = '.', countArg = '30'] = process.argv.slice(2);
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(target, f))
  : [target];
for (const file of files) console.log(top(file, Number(countArg)).join('\n') + '\n');
