/** Options `download` and `seed` share, parsed the same way for both. */
import { parseArgs } from 'node:util';
import { UsageError } from '../src/util/errors.js';

export const SHARED_OPTIONS = {
  peer: { type: 'string', multiple: true },
  port: { type: 'string' },
  'no-ipv4': { type: 'boolean' },
  'no-ipv6': { type: 'boolean' },
  json: { type: 'boolean' },
  recheck: { type: 'boolean' },
  'state-dir': { type: 'string' },
  'max-peers': { type: 'string' },
} as const;

export const SHARED_HELP = `  --peer HOST:PORT    connect to this peer (repeatable): 1.2.3.4:6881, [2001:db8::1]:6881, host.example:6881
                      (a host name with A and AAAA records is dialed Happy-Eyeballs style, IPv6 first)
  --port N            listening port for both IPv4 and IPv6 (default 6881; 0 picks a free one)
  --no-ipv4           do not listen on or connect over IPv4
  --no-ipv6           do not listen on or connect over IPv6
  --json              print one JSON object per line on stdout (events: listening, checking, checked,
                      peer-connected, peer-disconnected, piece-verified, piece-failed, peer-banned,
                      progress, complete, error, stopped) and nothing else
  --recheck           hash all data on disk, ignoring saved resume state
  --state-dir DIR     where resume state lives (default $SIXSWARM_STATE_DIR, else $XDG_STATE_HOME/sixswarm,
                      else ~/.local/state/sixswarm)
  --max-peers N       connected peers per torrent (default 60)
  -h, --help          this help`;

export function parseTorrentArgs<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>>(argv: string[], extra: T) {
  try {
    return parseArgs({ args: argv, options: { ...SHARED_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}. Run with --help for the options.`);
  }
}

export function parseCount(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${name} must be a positive number, not "${text}"`);
  return Number(text);
}
