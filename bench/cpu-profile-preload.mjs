// `node --cpu-prof` for a process started with NODE_OPTIONS (Node 20 refuses --cpu-prof there): loaded with
// NODE_OPTIONS="--import <this file>" and MESHCP_CPU_PROF_DIR, it profiles the thread it runs in (the main thread,
// and each worker thread that loads it) and writes <dir>/<pid>-<thread>.cpuprofile when the thread exits.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const dir = process.env.MESHCP_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  let part = 0;
  // A same-thread session answers synchronously, so this works inside 'exit'.
  const write = (again) => {
    session.post('Profiler.stop', (err, result) => {
      if (!err)
        writeFileSync(join(dir, `${process.pid}-${threadId}-${part++}.cpuprofile`), JSON.stringify(result.profile));
    });
    if (again) session.post('Profiler.start');
  };
  process.once('exit', () => write(false));
  // A terminated worker thread emits no 'exit': every thread also writes a part every 20 s.
  setInterval(() => write(true), 20_000).unref();
}
