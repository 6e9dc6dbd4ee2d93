import type { Out } from './terminal.js';

/** What meshctl touches of its process: the streams, the environment, and time (a fake one in tests). */
export interface CliIo {
  stdout: Out;
  stderr: Out;
  env: NodeJS.ProcessEnv;
  /** Reads all of stdin (for `apply -f -`). */
  readStdin(): Promise<string>;
  now(): number;
  sleep(ms: number): Promise<void>;
}
