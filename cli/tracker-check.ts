/** `sixswarm tracker-check`: does this tracker do IPv6 right? A matrix of checks per address family. */
import { OwnAddresses } from '../src/engine/own-addresses.js';
import type { Family } from '../src/net/address.js';
import { parseTrackerUrl, type TrackerUrl } from '../src/tracker/url.js';
import { checkTracker } from '../src/tracker-check/check.js';
import { REQUESTS_PER_FAMILY } from '../src/tracker-check/channels.js';
import type { TrackerReport } from '../src/tracker-check/report.js';
import { renderText } from '../src/tracker-check/table.js';
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { printable } from '../src/util/sanitize.js';
import { helpText, type Command } from './command.js';
import { parseIntOption } from './numbers.js';
import { parseOptions, type OptionTable } from './option-table.js';
import { stopSignals } from './stop-signals.js';
import type { CheckProgress } from './ui/check-table.js';

const options = {
  json: { type: 'boolean', help: 'one JSON object per tracker on stdout (rows with verdict, evidence, fix)' },
  family: { type: 'string', value: '4|6|both', help: 'check over IPv4 only, IPv6 only, or both (default both)' },
  timeout: {
    type: 'string',
    value: 'S',
    help: ['seconds to wait for each request, 1-60 (default 5); a UDP request is sent', 'up to three times within it'],
  },
  'info-hash': {
    type: 'string',
    value: 'HEX',
    help: [
      'announce on this 40-hex-digit info hash instead of a random one, for',
      'trackers that serve listed torrents only: list a hash made for testing,',
      "never a real torrent's",
    ],
  },
} as const satisfies OptionTable;

const usage = 'Usage: sixswarm tracker-check <announce-url>... [--json] [--family 4|6|both] [--timeout S] [--info-hash HEX]';

const help = helpText({
  usage,
  options,
  about: `Check whether BitTorrent trackers (http://, https://, udp://) support IPv6 properly, and how
they fail when they do not. For each URL: resolve its A and AAAA records, then over each family
that answers run a short script of announces and scrapes with throwaway peer ids on a random
info hash, and print a matrix: one row per check, one column per address family (a cell is
about requests sent over that family: ipv6= is sent over IPv4, so it shows in the IPv4 column).
Each cell is pass, fail, n/a (cannot apply: UDP has no ipv6=) or skipped (with the reason, e.g.
an earlier check failed, or this host has no global IPv6 address), with one line of evidence;
each failure also says what the tracker's operator should fix.

Checks:
  DNS (A / AAAA)                 the name has records of the family
  reachable                      a reply comes back over the family
  announce accepted              an announce gets a well-formed reply
  interval sane                  60 s <= interval <= 2 h, min interval <= interval
  UDP: 18-byte IPv6 entries      over IPv6, BEP 15 peers are 18 bytes, not 6
  peers / peers6 returned        a second peer gets the first: compact "peers" over IPv4,
                                 "peers6" over IPv6 (BEP 7, BEP 23)
  other family's peers           an IPv4 announcer gets the IPv6 peer and the reverse (HTTP)
  ipv6= / ipv4= honoured         our own global address of the other family, sent as BEP 7
                                 ipv6= (over IPv4) or ipv4= (over IPv6), is handed out (HTTP)
  link-local ipv6=/ipv4= refused a link-local ipv6= / ipv4= is not handed out (litter check)
  scrape counts our peers        BEP 48 (HTTP) or BEP 15 scrape sees our seeds and leechers
  stopped removes our peers      after event=stopped, a later announce lists none of them
  unknown info hash answered     a scrape of a hash nobody announced: no entry or zeros
  malformed request refused      a failure reason (HTTP) or an error packet (UDP), not silence
  UDP: bad connection id refused an error packet for a connection id never issued
  UDP: retransmission answered   one announce sent twice with one transaction id gets two
                                 replies and counts one peer`,
  notes: `What it announces, and what it leaves behind: only peers of its own, at our own addresses (the
ones the requests come from) on random ports nothing listens on, under a random info hash that
no real client will ever ask for. ipv6= and ipv4= carry only our own global unicast address of
that family (from the interfaces; the check is skipped without one). The litter check is the one
exception, and the least harmful one there is: it sends a link-local ipv6=fe80::<random> (over
IPv4) or ipv4=169.254.<random> (over IPv6) - addresses that reach nothing beyond one link, with
random host bits no real host is likely to have - on that same random hash, and stops it at
once. Every peer is stopped (event=stopped) before the command ends, also when it is interrupted
(SIGINT or SIGTERM: the remaining steps are skipped). A tracker that ignores stopped keeps them
until they expire; that is what the "stopped" row reports.

Bounded: at most ${REQUESTS_PER_FAMILY} requests per tracker and family (${2 * REQUESTS_PER_FAMILY} per tracker), in eight
steps one after another, each request waiting at most --timeout.

Exit codes: 0 every applicable check passed, 1 a check failed (or a runtime failure),
2 bad usage (no URL, a malformed URL or option).

Examples:
  sixswarm tracker-check http://tracker.example:6969/announce udp://tracker.example:6969
  sixswarm tracker-check udp://[2001:db8::1]:6969 --family 6 --json
`,
});

interface Options {
  urls: TrackerUrl[];
  json: boolean;
  families: Family[];
  timeoutMs: number;
  infoHash?: Buffer;
}

function parse(argv: string[]): Options {
  const { values, positionals } = parseOptions(options, argv, { positionals: true });
  if (positionals.length === 0) throw new UsageError('give at least one announce URL (http://, https:// or udp://); see --help');
  const urls = positionals.map((text) => {
    try {
      return parseTrackerUrl(text);
    } catch (e) {
      throw new UsageError(errorMessage(e));
    }
  });
  const family = values.family ?? 'both';
  if (family !== '4' && family !== '6' && family !== 'both') throw new UsageError(`--family must be 4, 6 or both, got "${family}"`);
  const hex = values['info-hash'];
  if (hex !== undefined && !/^[0-9a-fA-F]{40}$/.test(hex)) throw new UsageError(`--info-hash must be 40 hex digits, got "${hex}"`);
  return {
    urls,
    json: values.json ?? false,
    families: family === 'both' ? [4, 6] : [Number(family) as Family],
    timeoutMs: parseIntOption(values.timeout ?? '5', '--timeout', 1, 60) * 1000,
    ...(hex ? { infoHash: Buffer.from(hex, 'hex') } : {}),
  };
}

/** Where reports go: JSON lines, plain text, or (on a terminal) the ink view. */
interface Output {
  progress(p: CheckProgress): void;
  report(r: TrackerReport): void;
  close(): Promise<void>;
}

async function output(json: boolean): Promise<Output> {
  if (json || !process.stdout.isTTY) {
    return {
      progress: () => undefined,
      report: (r) => void process.stdout.write(json ? `${JSON.stringify(r)}\n` : `${renderText(r)}\n`),
      close: async () => undefined,
    };
  }
  // Loaded only for a terminal: ink and react cost most of a second of start-up.
  const [{ render }, { createElement }, { TrackerCheckView }] = await Promise.all([import('ink'), import('react'), import('./ui/check-table.js')]);
  const done: TrackerReport[] = [];
  let current: CheckProgress | undefined;
  // The table is cut to the terminal's width (ink lays it out; 0 columns means it was not told).
  const view = () => createElement(TrackerCheckView, { done: [...done], current, columns: process.stdout.columns || 120 });
  const ink = render(view(), { exitOnCtrlC: false });
  return {
    progress(p) {
      current = p;
      ink.rerender(view());
    },
    report(r) {
      done.push(r);
      current = undefined;
      ink.rerender(view());
    },
    async close() {
      current = undefined;
      ink.rerender(view());
      ink.unmount();
      await ink.waitUntilExit();
    },
  };
}

async function run(argv: string[]): Promise<number> {
  const o = parse(argv);
  const own = new OwnAddresses().get();
  const abort = new AbortController();
  const signals = stopSignals();
  void signals.stopped.then(() => {
    signals.dispose(); // a second signal ends the process at once
    process.stderr.write('interrupted: stopping the peers announced so far\n');
    abort.abort();
  });
  const out = await output(o.json);
  let ok = true;
  try {
    for (const url of o.urls) {
      if (abort.signal.aborted) break;
      const name = printable(url.text, 200);
      const report = await checkTracker(url, {
        families: o.families,
        timeoutMs: o.timeoutMs,
        own,
        signal: abort.signal,
        onStep: (step) => out.progress({ url: name, step }),
        ...(o.infoHash ? { infoHash: o.infoHash } : {}),
      });
      if (abort.signal.aborted) break;
      ok &&= report.ok;
      out.report(report);
    }
  } finally {
    signals.dispose();
    await out.close();
  }
  return ok && !abort.signal.aborted ? 0 : 1;
}

export const trackerCheck: Command = {
  name: 'tracker-check',
  summary: 'check whether trackers support IPv6 properly (a matrix of checks per family)',
  usage,
  options,
  help,
  run,
};
