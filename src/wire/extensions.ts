/**
 * BEP 10 extensions: a per-torrent registry of factories (ut_pex, ut_metadata, ...), each of
 * which makes one handler per peer. Our `m` dictionary is built from the registry; the peer's
 * ids come from its extended handshake. Rules:
 * - a message on an id we never advertised is ignored (BEP 10 leaves it to the receiver);
 * - a handler that finds a rule break throws ProtocolError, which closes that peer alone;
 * - a factory marked `discovery` (peer exchange) never attaches on a private torrent (BEP 27),
 *   and is withdrawn from every peer if the torrent turns out to be private (metadata arrived).
 */
import type { Encodable } from '../bencode/index.js';
import type { PeerAddress } from '../net/compact.js';
import type { TransportKind } from '../transport/transport.js';
import type { ExtensionHandshake } from './extension-handshake.js';

/** What a handler may know and do about its peer. */
export interface ExtensionPeer {
  readonly remote: PeerAddress;
  readonly peerId: Buffer;
  readonly outgoing: boolean;
  /** What carries the connection (a uTP peer's port is the one its UDP socket is reached at). */
  readonly transport: TransportKind;
  /** The peer's extended handshake, once it has arrived. */
  readonly ext: ExtensionHandshake | undefined;
  /** Close this peer's connection (a handler's last resort). */
  close(reason: string): void;
  /** It just gave us something worth its slot (a piece of metadata): not a peer to turn over. */
  useful(): void;
}

export interface PeerExtension {
  /** The peer's extended handshake arrived (again: a peer may send it more than once). */
  onExtendedHandshake?(h: ExtensionHandshake): void;
  /** A message for this extension. Throw ProtocolError on a rule break. */
  onMessage(payload: Buffer): void;
  /** Once a second while connected. */
  onTick?(now: number): void;
  /** The connection is gone, or the extension was withdrawn. */
  onClose?(): void;
}

export interface ExtensionFactory {
  /** The BEP 10 name, e.g. "ut_pex". */
  readonly name: string;
  /** Spreads peers (PEX): never on a private torrent. */
  readonly discovery?: boolean;
  /** Keys this extension adds to our extended handshake (ut_metadata: metadata_size). */
  handshakeKeys?(): Record<string, Encodable | undefined>;
  /** A handler for one peer; `send` delivers a payload on the peer's id for this extension. */
  attach(peer: ExtensionPeer, send: (payload: Uint8Array) => boolean): PeerExtension | undefined;
}

export class ExtensionRegistry {
  private readonly factories: ExtensionFactory[] = [];
  private readonly connections = new Set<PeerExtensions>();
  private privateTorrent: boolean;

  constructor(opts: { private: boolean }) {
    this.privateTorrent = opts.private;
  }

  get private(): boolean {
    return this.privateTorrent;
  }

  /** Local ids are 1, 2, ... in registration order (0 is the extended handshake itself). */
  register(f: ExtensionFactory): void {
    if (this.factories.some((g) => g.name === f.name)) throw new Error(`extension ${f.name} registered twice`);
    if (this.factories.length >= 254) throw new Error('too many extensions');
    this.factories.push(f);
  }

  /**
   * The torrent's metadata says it is private: every discovery extension is withdrawn. The
   * owner then re-sends its extended handshake, whose `m` now disables them for the peer too.
   */
  setPrivate(): void {
    if (this.privateTorrent) return;
    this.privateTorrent = true;
    for (const c of this.connections) c.withdrawDiscovery();
  }

  /** Our `m` dictionary (0 disables an extension, as BEP 10 says). */
  m(): Record<string, number> {
    const m: Record<string, number> = {};
    this.factories.forEach((f, i) => (m[f.name] = this.allowed(f) ? i + 1 : 0));
    return m;
  }

  handshakeKeys(): Record<string, Encodable | undefined> {
    const out: Record<string, Encodable | undefined> = {};
    for (const f of this.factories) if (this.allowed(f)) Object.assign(out, f.handshakeKeys?.());
    return out;
  }

  /** One connection's extensions; `sendRaw` sends an extended message with the given id. */
  forPeer(peer: ExtensionPeer, sendRaw: (id: number, payload: Uint8Array) => void): PeerExtensions {
    const c = new PeerExtensions(this, peer, sendRaw, () => this.connections.delete(c));
    this.connections.add(c);
    return c;
  }

  /** @internal In local id order. */
  list(): readonly ExtensionFactory[] {
    return this.factories;
  }

  /** @internal */
  factoryFor(localId: number): ExtensionFactory | undefined {
    return this.factories[localId - 1];
  }

  /** @internal */
  allowed(f: ExtensionFactory): boolean {
    return !(f.discovery && this.privateTorrent);
  }
}

/** The extensions of one connection: ids both ways and one handler per extension the peer speaks. */
export class PeerExtensions {
  private readonly handlers = new Map<string, PeerExtension>();
  /** Extension name -> the id the peer wants to receive it on. */
  private remoteIds = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly registry: ExtensionRegistry,
    private readonly peer: ExtensionPeer,
    private readonly sendRaw: (id: number, payload: Uint8Array) => void,
    private readonly forget: () => void,
  ) {}

  /** The peer's extended handshake: learn its ids, attach handlers for what both sides speak. */
  onHandshake(h: ExtensionHandshake): void {
    if (this.closed) return;
    this.remoteIds = new Map([...h.m].filter(([, id]) => id > 0));
    for (const f of this.registry.list()) {
      const existing = this.handlers.get(f.name);
      if (!this.remoteIds.has(f.name) || !this.registry.allowed(f)) {
        // The peer turned it off (id 0 in a later handshake).
        if (existing) this.drop(f.name, existing);
        continue;
      }
      if (existing) {
        existing.onExtendedHandshake?.(h);
        continue;
      }
      const handler = f.attach(this.peer, (payload) => this.send(f.name, payload));
      if (!handler) continue;
      this.handlers.set(f.name, handler);
      handler.onExtendedHandshake?.(h);
    }
  }

  /** A message the peer sent on one of our ids. */
  onMessage(localId: number, payload: Buffer): void {
    const f = this.registry.factoryFor(localId);
    if (!f) return; // an id we never advertised: ignored
    this.handlers.get(f.name)?.onMessage(payload);
  }

  /** Whether the peer speaks this extension (it gave it an id). */
  supports(name: string): boolean {
    return this.remoteIds.has(name);
  }

  handler(name: string): PeerExtension | undefined {
    return this.handlers.get(name);
  }

  tick(now: number): void {
    for (const h of this.handlers.values()) h.onTick?.(now);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [name, h] of this.handlers) this.drop(name, h);
    this.forget();
  }

  /** @internal The torrent became private: its discovery handlers go (the owner re-sends our handshake). */
  withdrawDiscovery(): void {
    for (const f of this.registry.list()) {
      const h = this.handlers.get(f.name);
      if (h && f.discovery) this.drop(f.name, h);
    }
  }

  private send(name: string, payload: Uint8Array): boolean {
    const id = this.remoteIds.get(name);
    if (this.closed || id === undefined || !this.handlers.has(name)) return false;
    this.sendRaw(id, payload);
    return true;
  }

  private drop(name: string, h: PeerExtension): void {
    this.handlers.delete(name);
    h.onClose?.();
  }
}
