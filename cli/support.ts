/** `sixswarm support`: the support matrix, from checks run on this host now. */
import { parseArgs } from 'node:util';
import { probeHost } from '../src/support/probes.js';
import { supportMatrix, type SupportRow } from '../src/support/matrix.js';
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import type { Command } from './command.js';

const help = `Usage: sixswarm support [--json]

Prints what sixswarm can do on this host right now, one row per component, after bitflu's IPv6
support matrix: binding to IPv6, IPv6 connections (a global IPv6 address, and of which class:
native, tunnel, 6to4, Teredo), the wire protocol, HTTP trackers, UDP trackers over IPv6, peer
exchange, the DHT (IPv4 only, and why), the built-in tunnel (which mode would run: the TUN mode
with the addon built, root and /dev/net/tun, else the stream mode; a server in
$SIXSWARM_TUNNEL_SERVER) and encryption (which RC4 engine loads). Each row has a
status (yes, partial, no) and one line that says what to do when something is missing.
Every check is local (binding sockets to port 0, reading interfaces and routes): nothing is sent.

Options:
  --json      one JSON object per row on stdout: {"id", "component", "status", "reason"} (and
              "addresses": [{"address", "device", "class"}] on the IPv6 connections row)
  -h, --help  this help

Exit code: 0 (the matrix is the answer, whatever it says); 2 for bad usage.`;

const HEADER = { component: 'Component', status: 'Status', reason: 'Comment' };

/** Word-wrap `text` to lines of at most `width` (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** The seed's boxed table; the comment column wraps to fit the terminal (100 columns elsewhere). */
export function renderMatrix(rows: SupportRow[], columns = 100): string {
  const w1 = Math.max(HEADER.component.length, ...rows.map((r) => r.component.length));
  const w2 = Math.max(HEADER.status.length, ...rows.map((r) => r.status.length));
  const w3 = Math.max(30, Math.min(Math.max(...rows.map((r) => r.reason.length)), columns - w1 - w2 - 10));
  const rule = `+${'-'.repeat(w1 + 2)}+${'-'.repeat(w2 + 2)}+${'-'.repeat(w3 + 2)}+`;
  const line = (a: string, b: string, c: string) => `| ${a.padEnd(w1)} | ${b.padEnd(w2)} | ${c.padEnd(w3)} |`;
  const out = [rule, line(HEADER.component, HEADER.status, HEADER.reason), rule];
  for (const r of rows) {
    wrap(r.reason, w3).forEach((text, i) => out.push(i === 0 ? line(r.component, r.status, text) : line('', '', text)));
    out.push(rule);
  }
  return `${out.join('\n')}\n`;
}

export const support: Command = {
  name: 'support',
  summary: "what this host supports now: IPv6, trackers, PEX, DHT, tunnel, encryption",
  help,
  async run(argv) {
    let json: boolean;
    try {
      const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, strict: true, allowPositionals: false });
      json = !!values.json;
    } catch (e) {
      throw new UsageError(`${errorMessage(e)}. Run with --help for the options.`);
    }
    const rows = supportMatrix(await probeHost());
    process.stdout.write(json ? rows.map((r) => `${JSON.stringify(r)}\n`).join('') : renderMatrix(rows, process.stdout.columns || 100));
    return 0;
  },
};
