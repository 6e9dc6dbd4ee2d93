// Preloaded into the control plane by the fleet bench (bench/fleet-longpoll.ts): samples process.memoryUsage() every
// 100 ms and keeps, in $MESHCP_BENCH_MEMORY_FILE, the sample with the highest RSS — what the peak is made of (V8
// heap in use and reserved, memory outside the heap such as socket and TLS buffers, array buffers). Next to it
// (<file>.pauses.json) what held the main thread: garbage-collection pauses and the event loop's delay.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const file = process.env.MESHCP_BENCH_MEMORY_FILE;
if (isMainThread && file) {
  let peak = 0;
  const mib = (bytes) => Math.round(bytes / 1048576);
  const gc = { count: 0, totalMs: 0, maxMs: 0, over10Ms: 0, over10MsByKind: {} };
  const KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.totalMs += entry.duration;
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
      if (entry.duration > 10) {
        gc.over10Ms++;
        const kind = KINDS[entry.detail?.kind] ?? 'other';
        gc.over10MsByKind[kind] = (gc.over10MsByKind[kind] ?? 0) + 1;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const round = (n) => Math.round(n * 10) / 10;
  let ticks = 0;
  setInterval(() => {
    const usage = process.memoryUsage();
    if (ticks++ % 10 === 0)
      writeFileSync(
        `${file}.pauses.json`,
        JSON.stringify({
          gc: {
            count: gc.count,
            totalMs: Math.round(gc.totalMs),
            maxMs: round(gc.maxMs),
            over10Ms: gc.over10Ms,
            over10MsByKind: gc.over10MsByKind,
          },
          heapUsedMiB: mib(usage.heapUsed),
          eventLoopDelayMs: {
            p50: round(loopDelay.percentile(50) / 1e6),
            p99: round(loopDelay.percentile(99) / 1e6),
            max: round(loopDelay.max / 1e6),
          },
        }),
      );
    if (usage.rss <= peak) return;
    peak = usage.rss;
    const sample = Object.fromEntries(Object.entries(usage).map(([k, v]) => [k, mib(v)]));
    writeFileSync(file, JSON.stringify(sample));
  }, 100).unref();
}
