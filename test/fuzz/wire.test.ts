/** Fuzz tests of the peer wire: frame streams and BEP 10 handshakes (see replay.ts). */
import { fuzzSuite } from './replay.js';
import { extHandshakeTarget, wireTarget } from './targets/wire.js';

fuzzSuite(wireTarget, { mutations: 1500 });
fuzzSuite(extHandshakeTarget, { mutations: 3000 });
