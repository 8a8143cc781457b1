/**
 * Dual-stack listening: one IPv4 and one IPv6 socket (IPV6_V6ONLY) on the same port, either of
 * which can be turned off. Port 0 picks a free port that is free on both families.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Family } from '../../net/address.js';
import type { Listening, ListenOptions } from '../network.js';

export class DualStackListener {
  private readonly servers: Server[] = [];
  readonly listening: Listening[] = [];

  constructor(private readonly onConnection: (socket: Socket) => void) {}

  get port(): number {
    return this.listening[0]?.port ?? 0;
  }

  async listen(opts: ListenOptions): Promise<Listening[]> {
    if (!opts.ipv4 && !opts.ipv6) throw new Error('both IPv4 and IPv6 are turned off: nothing to listen on');
    // With port 0 the first family picks the port; if the other family has it taken, try again.
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        let port = opts.port;
        if (opts.ipv6) port = await this.bind(6, opts.host6 ?? '::', port);
        if (opts.ipv4) port = await this.bind(4, opts.host4 ?? '0.0.0.0', port);
        return this.listening;
      } catch (e) {
        await this.close();
        if (opts.port !== 0 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw describe(e, opts.port);
      }
    }
    throw new Error('could not find a port that is free on both IPv4 and IPv6');
  }

  async close(): Promise<void> {
    const all = this.servers.splice(0);
    this.listening.length = 0;
    await Promise.all(all.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private bind(family: Family, host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true }, (s) => this.onConnection(s));
      server.once('error', reject);
      server.listen({ host, port, ipv6Only: family === 6, backlog: 128 }, () => {
        server.removeListener('error', reject);
        server.on('error', () => {}); // accept errors (EMFILE) must not kill the process
        const a = server.address();
        const bound = typeof a === 'object' && a ? a.port : port;
        this.servers.push(server);
        this.listening.push({ family, address: host, port: bound });
        resolve(bound);
      });
    });
  }
}

function describe(e: unknown, port: number): Error {
  const err = e as NodeJS.ErrnoException;
  // The code stays: a caller may pick another port, or say who holds this one.
  if (err.code === 'EADDRINUSE') return Object.assign(new Error(`port ${port} is already in use; pick another with --port`), { code: err.code, port });
  if (err.code === 'EACCES') return new Error(`no permission to listen on port ${port}; use a port above 1023`);
  if (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL') return new Error(`cannot listen: ${err.message} (turn the family off with --no-ipv4 / --no-ipv6)`);
  return err;
}
