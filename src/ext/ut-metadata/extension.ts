/**
 * `ut_metadata` on one connection: answers a peer's requests from the torrent's metadata (or
 * rejects them while we have none), and feeds the pieces it sends us to the torrent's exchange.
 */
import { formatHostPort } from '../../net/hostport.js';
import type { ExtensionFactory, ExtensionPeer, PeerExtension } from '../../wire/extensions.js';
import { ProtocolError } from '../../wire/frame-decoder.js';
import { decodeMetadataMessage, encodeMetadataMessage, pieceCountOf } from './codec.js';
import type { MetadataExchange, MetadataSource } from './exchange.js';

/** Requests one connection may make beyond the metadata's own piece count (re-asks after a reject are fine). */
const SPARE_REQUESTS = 64;

export function utMetadata(exchange: MetadataExchange, isPrivate: () => boolean): ExtensionFactory {
  return {
    name: 'ut_metadata',
    handshakeKeys: () => (exchange.metadata && !isPrivate() ? { metadata_size: exchange.metadata.length } : {}),
    // libtorrent does the same: a private torrent's metadata is not handed to whoever asks.
    attach: (peer, send) => (isPrivate() ? undefined : new MetadataConnection(exchange, peer, send)),
  };
}

class MetadataConnection implements PeerExtension, MetadataSource {
  readonly label: string;
  readonly host: string;
  size = 0;
  private requests = 0;
  private registered = false;

  constructor(
    private readonly exchange: MetadataExchange,
    private readonly peer: ExtensionPeer,
    private readonly send: (payload: Uint8Array) => boolean,
  ) {
    this.label = formatHostPort(peer.remote.host, peer.remote.port);
    this.host = peer.remote.host;
  }

  onExtendedHandshake(): void {
    const size = this.peer.ext?.metadataSize;
    if (!size || this.registered) return;
    this.size = size;
    this.registered = true;
    this.exchange.add(this);
  }

  onMessage(payload: Buffer): void {
    const m = decodeMetadataMessage(payload);
    switch (m.type) {
      case 'request': {
        const limit = pieceCountOf(this.exchange.metadata?.length ?? 0) + SPARE_REQUESTS;
        if (++this.requests > limit) throw new ProtocolError(`more than ${limit} ut_metadata requests`);
        const piece = this.exchange.piece(m.piece);
        this.send(encodeMetadataMessage(piece ? { type: 'data', piece: m.piece, ...piece } : { type: 'reject', piece: m.piece }));
        return;
      }
      case 'data':
        this.exchange.received(this, m.piece, m.totalSize, m.data);
        return;
      case 'reject':
        this.exchange.rejected(this, m.piece);
        return;
    }
  }

  onTick(now: number): void {
    this.exchange.tick(now);
  }

  onClose(): void {
    if (this.registered) this.exchange.remove(this);
  }

  answered(): void {
    this.peer.useful();
  }

  request(piece: number): void {
    this.send(encodeMetadataMessage({ type: 'request', piece }));
  }

  close(reason: string): void {
    this.peer.close(reason);
  }
}
