/** Fuzz tests of .torrent parsing and magnet links: the saved corpora replayed, seeded mutations, cost per byte (see replay.ts). */
import { fuzzSuite } from './replay.js';
import { magnetTarget, metainfoTarget } from './targets/metainfo.js';

fuzzSuite(metainfoTarget, { mutations: 2000 });
fuzzSuite(magnetTarget, { mutations: 3000 });
