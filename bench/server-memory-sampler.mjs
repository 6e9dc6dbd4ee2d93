// Preloaded into the control plane by the fleet bench (bench/fleet-longpoll.ts): samples process.memoryUsage() every
// 100 ms and keeps, in $MESHCP_BENCH_MEMORY_FILE, the sample with the highest RSS — what the peak is made of (V8
// heap in use and reserved, memory outside the heap such as socket and TLS buffers, array buffers).
import { writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.MESHCP_BENCH_MEMORY_FILE;
if (isMainThread && file) {
  let peak = 0;
  const mib = (bytes) => Math.round(bytes / 1048576);
  setInterval(() => {
    const usage = process.memoryUsage();
    if (usage.rss <= peak) return;
    peak = usage.rss;
    const sample = Object.fromEntries(Object.entries(usage).map(([k, v]) => [k, mib(v)]));
    writeFileSync(file, JSON.stringify(sample));
  }, 100).unref();
}
