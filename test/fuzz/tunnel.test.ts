/** Fuzz tests of the tunnel: packet framing (plain and offload) and the JSON handshake (see replay.ts). */
import { fuzzSuite } from './replay.js';
import { tunnelHandshakeTarget, tunnelOffloadTarget, tunnelTarget } from './targets/tunnel.js';

fuzzSuite(tunnelTarget, { mutations: 2000 });
fuzzSuite(tunnelOffloadTarget, { mutations: 2000 });
fuzzSuite(tunnelHandshakeTarget, { mutations: 2000 });
