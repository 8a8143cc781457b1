/** Fuzz tests of the BEP 10 extensions' codecs: ut_pex and ut_metadata (see replay.ts). */
import { fuzzSuite } from './replay.js';
import { pexTarget, utMetadataTarget } from './targets/ext.js';

fuzzSuite(pexTarget, { mutations: 3000 });
fuzzSuite(utMetadataTarget, { mutations: 3000 });
