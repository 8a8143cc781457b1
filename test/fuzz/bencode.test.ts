/** Fuzz test of the bencode decoder and encoder: the saved corpus replayed, seeded mutations, cost per byte (see replay.ts). */
import { fuzzSuite } from './replay.js';
import { bencodeTarget } from './targets/bencode.js';

fuzzSuite(bencodeTarget, { mutations: 4000 });
