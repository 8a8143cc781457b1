/** The seed corpus of every target, by corpus name (what `scripts/fuzz.mjs --seed` writes). */
import { bencodeSeeds } from './bencode.js';
import { pexSeeds, utMetadataSeeds } from './ext.js';
import { krpcSeeds } from './krpc.js';
import { magnetSeeds, metainfoSeeds } from './metainfo.js';
import { mseInitiatorSeeds, mseResponderSeeds } from './mse.js';
import type { Seed } from './seed.js';
import { trackerHttpSeeds, trackerRequestSeeds, trackerUdpSeeds } from './tracker.js';
import { tunnelHandshakeSeeds, tunnelOffloadSeeds, tunnelSeeds } from './tunnel.js';
import { extHandshakeSeeds, wireSeeds } from './wire.js';

export type { Seed } from './seed.js';

/** `root`: the repository, whose fixtures/ hold torrents and streams from other programs. */
export function seedsFor(root: string): Record<string, () => Seed[]> {
  return {
    bencode: bencodeSeeds,
    metainfo: () => metainfoSeeds(root),
    magnet: magnetSeeds,
    wire: () => wireSeeds(root),
    'ext-handshake': extHandshakeSeeds,
    pex: pexSeeds,
    'ut-metadata': utMetadataSeeds,
    krpc: krpcSeeds,
    'mse-responder': mseResponderSeeds,
    'mse-initiator': mseInitiatorSeeds,
    'tracker-http': trackerHttpSeeds,
    'tracker-udp': trackerUdpSeeds,
    'tracker-request': trackerRequestSeeds,
    tunnel: tunnelSeeds,
    'tunnel-offload': tunnelOffloadSeeds,
    'tunnel-handshake': tunnelHandshakeSeeds,
  };
}
