/** The meshctl executable: real process I/O around runMeshctl. */
import { runMeshctl } from './program.js';
import { sleep, systemClock } from '../domain/clock.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

process.on('SIGINT', () => {
  process.stderr.write('\ninterrupted (meshctl commands are safe to re-run)\n');
  process.exit(130);
});

const code = await runMeshctl(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  readStdin,
  now: () => systemClock.now(),
  sleep: (ms) => sleep(systemClock, ms),
});
process.exitCode = code;
