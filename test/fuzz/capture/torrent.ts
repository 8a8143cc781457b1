/**
 * The torrent real peers are captured talking about (capture.ts): 100 pieces of 16 KiB of
 * zeros, so a bitfield has the 13 bytes the wire target expects. Built by our encoder the same
 * every time, its info hash is the one the MSE targets negotiate for, so a libtorrent seeding it
 * can run the handshake with the fixed-key machines whose inputs the corpus replays.
 */
import { createHash } from 'node:crypto';
import { encode } from '../../../src/bencode/index.js';

export const CAPTURE_PIECE = 16 * 1024;
export const CAPTURE_PIECES = 100;
export const CAPTURE_NAME = 'fuzz-capture.bin';

const zeroPiece = createHash('sha1').update(Buffer.alloc(CAPTURE_PIECE)).digest();
const info = { length: CAPTURE_PIECE * CAPTURE_PIECES, name: CAPTURE_NAME, 'piece length': CAPTURE_PIECE, pieces: Buffer.concat(Array<Buffer>(CAPTURE_PIECES).fill(zeroPiece)) };

/** The .torrent file. */
export const captureTorrent = (): Buffer => encode({ 'created by': 'sixswarm fuzz', info });

export const CAPTURE_INFO_HASH: Buffer = createHash('sha1').update(encode(info)).digest();
