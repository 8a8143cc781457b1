/**
 * Test support: a TCP proxy that records every byte it forwards, per connection and direction:
 * a capture of the stream between two peers that a test can search. `up` is what the dialing
 * side sent, `down` what the listening side sent back.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface RecordedConnection {
  up: Buffer[];
  down: Buffer[];
}

export class RecordingProxy {
  readonly connections: RecordedConnection[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
    /** Where new connections go (a test may switch it: the same address, another peer behind it). */
    public target: { host: string; port: number },
  ) {}

  /** Listen on `host` (port 0: a free one) and forward each connection to `target`. */
  static start(host: string, target: { host: string; port: number }): Promise<RecordingProxy> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ host, port: 0 }, () => {
        const proxy = new RecordingProxy(server, host, (server.address() as { port: number }).port, target);
        server.on('connection', (client) => proxy.forward(client, proxy.target));
        resolve(proxy);
      });
    });
  }

  /** `--peer` argument for sixswarm. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** Everything each side sent, over every connection, in order. */
  bytes(direction: 'up' | 'down'): Buffer {
    return Buffer.concat(this.connections.flatMap((c) => c[direction]));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private forward(client: Socket, target: { host: string; port: number }): void {
    const rec: RecordedConnection = { up: [], down: [] };
    this.connections.push(rec);
    const server = connect(target);
    for (const s of [client, server]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        server.destroy();
      });
    }
    client.on('data', (d: Buffer) => {
      rec.up.push(d);
      server.write(d);
    });
    server.on('data', (d: Buffer) => {
      rec.down.push(d);
      client.write(d);
    });
  }
}
