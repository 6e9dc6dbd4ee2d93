// Preloaded into the control plane by `BENCH_SERVER_CPU_PROF=<dir>` (bench/fleet-longpoll.ts): profiles the main
// thread through an inspector session and writes <dir>/main-<pid>.cpuprofile when the process exits (Node 20
// refuses --cpu-prof in NODE_OPTIONS). Open it in Chrome DevTools or aggregate it by function.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.MESHCP_BENCH_PROFILE_DIR;
if (isMainThread && dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // Same-thread inspector sessions answer synchronously, so this runs before the process ends.
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(`${dir}/main-${process.pid}.cpuprofile`, JSON.stringify(result.profile));
    });
  });
}
