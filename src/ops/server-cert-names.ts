import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { DNS_NAME } from '../config.js';

interface ServerCertNames {
  dnsNames: string[];
  ipAddresses: string[];
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/**
 * The names the generated HTTPS certificate must carry for clients to reach it: loopback always, the configured
 * names, the address the API is bound to, and, when bound to every interface, this host's name and its addresses.
 */
export function serverCertNames(
  apiAddress: string,
  configured: string[],
  host: { hostname: () => string; interfaces: () => string[] } = { hostname, interfaces: interfaceAddresses },
): ServerCertNames {
  const all = new Set(['localhost', '127.0.0.1', '::1', ...configured]);
  if (WILDCARD.has(apiAddress)) {
    all.add(host.hostname());
    for (const address of host.interfaces()) all.add(address);
  } else {
    all.add(apiAddress);
  }
  const dnsNames = [...all].filter((n) => isIP(n) === 0 && DNS_NAME.test(n)).sort();
  const ipAddresses = [...all].filter((n) => isIP(n) !== 0).sort();
  return { dnsNames, ipAddresses };
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i): i is NonNullable<typeof i> => i !== undefined && !i.address.startsWith('fe80:'))
    .map((i) => i.address);
}

/** What the sidecar file records, so a changed set of names regenerates the certificate. */
export const namesKey = (names: ServerCertNames) => [...names.dnsNames, ...names.ipAddresses].join('\n') + '\n';
