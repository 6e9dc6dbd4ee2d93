import type pino from 'pino';
import pretty from 'pino-pretty';

/**
 * Where log lines go: JSON lines for collectors, or pino-pretty's coloured one-liners for a person at a terminal
 * (pino-pretty is pino's own formatter, kept by the same maintainers). Synchronous, so nothing is lost on exit.
 */
export function logDestination(format: 'json' | 'pretty' | undefined): pino.DestinationStream | undefined {
  const wantPretty = format === 'pretty' || (format === undefined && process.stdout.isTTY === true);
  if (!wantPretty) return undefined;
  return pretty({
    sync: true,
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
  });
}

/** A listen error as one line naming the variable to change, instead of a stack trace. */
export function describeListenError(err: unknown, variable: string, port: number): string | undefined {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE')
    return `port ${port} is already in use: stop what uses it or set ${variable} to another port (0 picks a free one)`;
  if (code === 'EACCES') return `port ${port} needs privileges: set ${variable} to a port above 1023`;
  if (code === 'EADDRNOTAVAIL')
    return `the address to listen on does not exist on this machine: check MESHCP_API_ADDRESS`;
  return undefined;
}
