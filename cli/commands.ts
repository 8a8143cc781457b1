import type { Command } from './command.js';
import { create } from './create.js';
import { info } from './info.js';
import { download } from './download.js';
import { seed } from './seed.js';

/** Every subcommand, in the order `sixswarm --help` lists them. */
export const commands: Command[] = [download, seed, create, info];
