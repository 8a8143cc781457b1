/**
 * Test support: a Network with no socket at all. Hosts join one MemoryInternet; a dial to
 * host:port reaches whoever listens there, over a pair of in-memory transports. UDP, trackers and
 * HTTP are not part of it (their calls fail, saying so), so an engine on it runs with trackers
 * and the DHT off.
 */
import type { Duplex } from 'node:stream';
import type { Family } from '../../src/net/address.js';
import { familyOf } from '../../src/net/address.js';
import { formatHostPort } from '../../src/net/hostport.js';
import type { DatagramChannel, DatagramFlow } from '../../src/transport/datagram.js';
import type { DialOneOptions, DialTarget, Listening, ListenOptions, Network } from '../../src/transport/network.js';
import type { Transport } from '../../src/transport/transport.js';
import { memoryPair, type MemoryPairOptions } from './memory-transport.js';

export class MemoryInternet {
  private readonly listeners = new Map<string, (t: Transport) => void>();
  private nextPort = 20000;
  /** Dials made, listeners reached or not. */
  dials = 0;

  constructor(readonly pair: MemoryPairOptions = {}) {}

  /** A host on this internet with one address per family given. */
  host(addresses: Partial<Record<Family, string>>): MemoryNetwork {
    return new MemoryNetwork(this, addresses);
  }

  /** @internal */
  listen(host: string, port: number, onStream: (t: Transport) => void): number {
    const at = port || this.nextPort++;
    const key = formatHostPort(host, at);
    if (this.listeners.has(key)) throw Object.assign(new Error(`${key} is in use`), { code: 'EADDRINUSE' });
    this.listeners.set(key, onStream);
    return at;
  }

  /** @internal */
  unlisten(host: string, port: number): void {
    this.listeners.delete(formatHostPort(host, port));
  }

  /** @internal */
  connect(from: { host: string; port: number }, to: DialTarget): Transport {
    this.dials++;
    const accept = this.listeners.get(formatHostPort(to.host, to.port));
    if (!accept) throw Object.assign(new Error(`connect ECONNREFUSED ${formatHostPort(to.host, to.port)}`), { code: 'ECONNREFUSED' });
    const family = (h: string) => familyOf(h) ?? 4;
    const [mine, theirs] = memoryPair({ ...this.pair, a: { ...from, family: family(from.host) }, b: { host: to.host, port: to.port, family: family(to.host) } });
    // Like a socket's: the accept happens after the connect, on a later turn.
    setImmediate(() => accept(theirs));
    return mine;
  }
}

export class MemoryNetwork implements Network {
  private readonly listens: Listening[] = [];
  private nextEphemeral = 40000;

  constructor(
    private readonly internet: MemoryInternet,
    private readonly addresses: Partial<Record<Family, string>>,
  ) {}

  async dial(target: DialTarget, opts: DialOneOptions): Promise<Transport> {
    if (opts.signal.aborted) throw new Error('connect aborted');
    const own = this.addresses[familyOf(target.host) ?? 4];
    if (!own) throw Object.assign(new Error(`connect ENETUNREACH ${target.host}`), { code: 'ENETUNREACH' });
    await new Promise((r) => setImmediate(r));
    return this.internet.connect({ host: own, port: this.nextEphemeral++ }, target);
  }

  async listen(opts: ListenOptions, onStream: (t: Transport) => void): Promise<Listening[]> {
    let port = opts.port;
    for (const family of [6, 4] as const) {
      const host = this.addresses[family];
      if (!host || !(family === 6 ? opts.ipv6 : opts.ipv4)) continue;
      port = this.internet.listen(host, port, onStream);
      this.listens.push({ family, address: host, port });
    }
    return this.listening();
  }

  listening(): Listening[] {
    return [...this.listens];
  }

  datagrams(family: Family): Promise<DatagramChannel> {
    return Promise.reject(new Error(`the memory network carries no UDP (IPv${family})`));
  }

  openFlow(): Promise<DatagramFlow> {
    return Promise.reject(new Error('the memory network carries no UDP'));
  }

  openStream(): Duplex {
    throw new Error('the memory network carries no HTTP');
  }

  setLocalAddress(): void {}

  async close(): Promise<void> {
    for (const l of this.listens.splice(0)) this.internet.unlisten(l.address, l.port);
  }
}
