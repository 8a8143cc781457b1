/** Fuzz test of KRPC, the DHT's datagrams (see replay.ts). */
import { fuzzSuite } from './replay.js';
import { krpcTarget } from './targets/krpc.js';

fuzzSuite(krpcTarget, { mutations: 4000 });
