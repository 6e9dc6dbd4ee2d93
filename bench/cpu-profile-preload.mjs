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
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // A same-thread session answers synchronously, so this works inside 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}-${threadId}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  process.on('exit', write);
}
