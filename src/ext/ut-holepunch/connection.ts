/**
 * ut_holepunch with one partner: decodes what it sends (a malformed message closes that peer
 * alone, as any BEP 10 rule break does) and hands it to the torrent's holepunch roles; sends
 * what the torrent asks it to.
 */
import { formatHostPort } from '../../net/hostport.js';
import type { ExtensionPeer, PeerExtension } from '../../wire/extensions.js';
import { decodeHolepunch, encodeHolepunch, type HolepunchMessage } from './codec.js';
import type { HolepunchPartner, HolepunchTorrent } from './torrent.js';

export class HolepunchConnection implements PeerExtension, HolepunchPartner {
  readonly label: string;

  constructor(
    private readonly torrent: HolepunchTorrent,
    readonly peer: ExtensionPeer,
    private readonly sendRaw: (payload: Uint8Array) => boolean,
  ) {
    this.label = formatHostPort(peer.remote.host, peer.remote.port);
    torrent.join(this);
  }

  send(m: HolepunchMessage): boolean {
    return this.sendRaw(encodeHolepunch(m));
  }

  onMessage(payload: Buffer): void {
    this.torrent.onMessage(this, decodeHolepunch(payload));
  }

  onClose(): void {
    this.torrent.leave(this);
  }
}
