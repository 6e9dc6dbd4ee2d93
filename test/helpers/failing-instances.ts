// Control-plane instances that fail the ways failover must handle, as real sockets on loopback: a refused port, a
// "black hole" that accepts and never answers, an instance answering 503 (lost its database), and a TCP relay in
// front of a live control plane that can be killed (its connections reset, its port refusing) and counts what
// reaches it. Two relays in front of one control plane are two instances sharing one database.
import http from 'node:http';
import net from 'node:net';
import { freePort } from './processes.js';

/** An address nothing listens on: connections are refused. */
export async function refusedAddress(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

export interface TestInstance {
  address: string;
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

function listen(server: net.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** Listens on a free loopback port, counting the connections accepted and closing them all on close(). */
async function instanceOn<T extends object>(server: net.Server, extra: T): Promise<TestInstance & T> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    instance.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  const instance = {
    ...extra,
    address: `http://127.0.0.1:${port}`,
    port,
    connections: 0,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return instance;
}

/** Accepts connections, reads what comes, never answers. */
export function blackHole(): Promise<TestInstance> {
  return instanceOn(
    net.createServer((socket) => socket.resume()),
    {},
  );
}

/** Answers every request with `status` and an API error body, as an instance without its database does. */
export function answeringWith(status: number): Promise<TestInstance & { requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    request.resume();
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        type: '/std-errors',
        status,
        title: 'Service Unavailable',
        detail: 'the database is unavailable',
      }),
    );
  });
  return instanceOn(server, { requests });
}

/** Reads a request, then resets the connection without answering (the instance died while handling it). */
export async function resettingAfterRequest(): Promise<TestInstance & { requests: number }> {
  const server = net.createServer((socket) =>
    socket.once('data', () => {
      instance.requests++;
      socket.resetAndDestroy();
    }),
  );
  const instance = await instanceOn(server, { requests: 0 });
  return instance;
}

/**
 * A TCP relay to a live control plane. `kill()` is an instance killed with `kill -9`: open connections reset, new
 * ones refused. `listen(port)` can bring it back on the same port.
 */
export class Relay implements TestInstance {
  connections = 0;
  port = 0;
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly target: string) {}

  get address(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(port = 0): Promise<this> {
    const target = new URL(this.target);
    this.server = net.createServer((client) => {
      this.connections++;
      const upstream = net.connect(Number(target.port), target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => (socket === client ? upstream : client).resetAndDestroy());
      }
      client.pipe(upstream).pipe(client);
    });
    this.port = await listen(this.server, port);
    return this;
  }

  /** Open connections reset (RST), the port refuses from now on. */
  kill(): Promise<void> {
    for (const socket of this.sockets) socket.resetAndDestroy();
    const server = this.server;
    this.server = undefined;
    return server ? new Promise((resolve) => server.close(() => resolve())) : Promise.resolve();
  }

  close(): Promise<void> {
    return this.kill();
  }
}
