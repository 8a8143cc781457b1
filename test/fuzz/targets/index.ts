/** Every fuzz target by its corpus name: what the tests replay and scripts/fuzz.mjs mutates. */
import type { Target } from '../contract.js';
import { bencodeTarget } from './bencode.js';
import { pexTarget, utMetadataTarget } from './ext.js';
import { krpcTarget } from './krpc.js';
import { magnetTarget, metainfoTarget } from './metainfo.js';
import { mseInitiatorTarget, mseResponderTarget } from './mse.js';
import { trackerHttpTarget, trackerRequestTarget, trackerUdpTarget } from './tracker.js';
import { tunnelHandshakeTarget, tunnelOffloadTarget, tunnelTarget } from './tunnel.js';
import { extHandshakeTarget, wireTarget } from './wire.js';

export const TARGETS: readonly Target[] = [
  bencodeTarget,
  metainfoTarget,
  magnetTarget,
  wireTarget,
  extHandshakeTarget,
  pexTarget,
  utMetadataTarget,
  krpcTarget,
  mseResponderTarget,
  mseInitiatorTarget,
  trackerHttpTarget,
  trackerUdpTarget,
  trackerRequestTarget,
  tunnelTarget,
  tunnelOffloadTarget,
  tunnelHandshakeTarget,
];

export function targetNamed(name: string): Target | undefined {
  return TARGETS.find((t) => t.name === name);
}
