/** Fuzz tests of tracker replies (HTTP and UDP) and of the built-in tracker's requests (see replay.ts). */
import { fuzzSuite } from './replay.js';
import { trackerHttpTarget, trackerRequestTarget, trackerUdpTarget } from './targets/tracker.js';

fuzzSuite(trackerHttpTarget, { mutations: 3000 });
fuzzSuite(trackerUdpTarget, { mutations: 4000 });
fuzzSuite(trackerRequestTarget, { mutations: 1500 });
