/** Tests run the compiled CLI; `ensureBuilt` lives with the process helpers. */
export { ensureBuilt } from './sixswarm.js';
