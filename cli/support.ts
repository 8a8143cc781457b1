/** `sixswarm support`: the support matrix, from checks run on this host now. */
import { probeHost } from '../src/support/probes.js';
import { supportMatrix, type SupportRow } from '../src/support/matrix.js';
import { probeRouter } from '../src/support/router-probe.js';
import { command } from './command.js';
import { parseOptions, type OptionTable } from './option-table.js';

const options = {
  router: {
    type: 'boolean',
    help: [
      'also ask the home router now whether it opens a port for us (PCP, NAT-PMP,',
      'UPnP IGD, per family), with a short lease on a random port, deleted at once',
    ],
  },
  json: {
    type: 'boolean',
    help: [
      'one JSON object per row on stdout: {"id", "component", "status", "reason"}',
      '(and "addresses": [{"address", "device", "class"}] on the IPv6 connections row)',
    ],
  },
} as const satisfies OptionTable;

const about = `Prints what sixswarm can do on this host right now, one row per component, after bitflu's IPv6
support matrix: binding to IPv6, IPv6 connections (a global IPv6 address, and of which class:
native, tunnel, 6to4, Teredo), the wire protocol, HTTP trackers, UDP trackers over IPv6, peer
exchange, the DHT (IPv4 only, and why), local peer discovery (the LAN interfaces it would use
per family, its UDP port 6771), the built-in tunnel (which mode would run: the TUN mode with the
addon built, root and /dev/net/tun, else the stream mode; a server in $SIXSWARM_TUNNEL_SERVER),
uTP (UDP on each family, the native addon that batches its datagrams), holepunching (BEP 55, on
the families uTP runs on) and encryption (which RC4 engine loads). Each row has a
status (yes, partial, no) and one line that says what to do when something is missing.
Every check is local (binding sockets to port 0, reading interfaces and routes): nothing is sent,
but with --router, which asks the router (the default gateway of each family) for a mapping.`;

const notes = `Exit code: 0 (the matrix is the answer, whatever it says); 2 for bad usage.`;

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

export const support = command({
  name: 'support',
  summary: "what this host supports now: IPv6, trackers, PEX, DHT, LSD, tunnel, uTP, holepunch, encryption",
  usage: 'Usage: sixswarm support [--router] [--json]',
  about,
  options,
  notes,
  async run(argv) {
    const { values } = parseOptions(options, argv, { positionals: false });
    const facts = await probeHost();
    if (values.router) facts.router = await probeRouter({ 4: facts.ipv4, 6: facts.ipv6.length > 0 });
    const rows = supportMatrix(facts);
    const json = !!values.json;
    process.stdout.write(json ? rows.map((r) => `${JSON.stringify(r)}\n`).join('') : renderMatrix(rows, process.stdout.columns || 100));
    return 0;
  },
});
