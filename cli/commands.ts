import type { Command } from './command.js';
import { config } from './config.js';
import { create } from './create.js';
import { info } from './info.js';
import { download } from './download.js';
import { seed } from './seed.js';
import { tracker } from './tracker.js';
import { trackerCheck } from './tracker-check.js';
import { tunnel } from './tunnel.js';
import { tunnelServer } from './tunnel-server.js';
import { support } from './support.js';
import { ui } from './session-ui.js';
import { demo } from './demo.js';
import { daemon } from './daemon.js';

/** Every subcommand, in the order `sixswarm --help` lists them. */
export const commands: Command[] = [ui, daemon, demo, download, seed, create, info, tracker, trackerCheck, tunnel, tunnelServer, support, config];
