/** Fuzz tests of the MSE handshake, both sides fed hostile bytes (see replay.ts and targets/mse.ts). */
import { fuzzSuite } from './replay.js';
import { mseInitiatorTarget, mseResponderTarget } from './targets/mse.js';

fuzzSuite(mseResponderTarget, { mutations: 600 });
fuzzSuite(mseInitiatorTarget, { mutations: 600 });
