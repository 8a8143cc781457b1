/**
 * `sixswarm tracker-check`: does this tracker do IPv6 right? A matrix of checks per address,
 * for one tracker or a whole list, as a table, JSON lines, Markdown or one HTML page, or just the
 * URLs that pass (or fail).
 */
import { hostname } from 'node:os';
import { OwnAddresses } from '../src/engine/own-addresses.js';
import type { Family } from '../src/net/address.js';
import { parseTrackerUrl, type TrackerUrl } from '../src/tracker/url.js';
import { checkAll } from '../src/tracker-check/batch.js';
import { REQUESTS_PER_ADDRESS } from '../src/tracker-check/channels.js';
import { renderHtml } from '../src/tracker-check/html.js';
import { parseList, readList } from '../src/tracker-check/list.js';
import { renderMarkdown } from '../src/tracker-check/markdown.js';
import type { TrackerReport } from '../src/tracker-check/report.js';
import { MAX_ADDRESSES_PER_FAMILY } from '../src/tracker-check/script.js';
import { filtered, summaryRow, tally, type Filter, type ListEntry, type RunInfo } from '../src/tracker-check/summary.js';
import { renderSummaryText, renderText } from '../src/tracker-check/table.js';
import { errorMessage } from '../src/util/errors.js';
import { printable } from '../src/util/sanitize.js';
import { VERSION } from '../src/version.js';
import { helpText, type Command } from './command.js';
import { parseOptions, type OptionTable } from './option-table.js';
import { parseIntOption } from './numbers.js';
import { UsageError } from './usage-error.js';
import { signalExitCode, stopSignals } from './stop-signals.js';
import type { CheckViewProps } from './ui/check-table.js';

const FORMATS = ['table', 'json', 'markdown', 'html'] as const;
type Format = (typeof FORMATS)[number];

const options = {
  list: {
    type: 'string',
    value: 'FILE',
    help: [
      'check the trackers listed in FILE (- for standard input): one URL a line,',
      'blank lines and # comments allowed (the format of the public tracker',
      'lists); lines that are no tracker URL are reported and skipped',
    ],
  },
  format: {
    type: 'string',
    value: 'F',
    help: [
      'table (default: on a terminal, live progress and each tracker\'s matrix, or',
      'with --list the summary alone), json (one object per tracker per line, in',
      'list order, then a summary object), markdown or html (one report to',
      'publish: the run\'s time and host, the summary sorted by verdict, every',
      'matrix; html is a single page with no external assets, evidence on hover',
      'and in each cell opened)',
    ],
  },
  json: { type: 'boolean', help: 'the same as --format json' },
  'only-ipv6-ok': {
    type: 'boolean',
    help: ['print only the URLs whose every IPv6 address answers and passes every', 'IPv6 check, one a line, in list order (an "IPv6-capable trackers" list)'],
  },
  'only-failing': { type: 'boolean', help: 'print only the URLs with a failing check, or that nothing answered' },
  family: { type: 'string', value: '4|6|both', help: 'check over IPv4 only, IPv6 only, or both (default both)' },
  timeout: {
    type: 'string',
    value: 'S',
    help: ['seconds each request may take, redirects and UDP retransmissions', 'included, 1-60 (default 5); a UDP request is sent up to three times'],
  },
  'tracker-timeout': {
    type: 'string',
    value: 'S',
    help: [
      'bound for the whole check of one tracker (default 12 x --timeout,',
      'at least 30, at most 300): later steps are skipped (and say so) and its',
      'peers are stopped within it',
    ],
  },
  'total-timeout': {
    type: 'string',
    value: 'S',
    help: ['bound for the whole run (default 1800): trackers whose turn comes too', 'late are reported as not checked'],
  },
  parallel: { type: 'string', value: 'N', help: 'trackers checked at once, 1-64 (default 8)' },
  requests: { type: 'string', value: 'N', help: ['requests in flight to one tracker at once, all its addresses together,', '1-16 (default 4)'] },
  'info-hash': {
    type: 'string',
    value: 'HEX',
    help: [
      'announce on this 40-hex-digit info hash instead of a random one, for',
      'trackers that serve listed torrents only: list a hash made for testing,',
      "never a real torrent's; the trackers are then checked one at a time (two",
      'checks of one tracker at once would count each other\'s peers)',
    ],
  },
} as const satisfies OptionTable;

const usage = `Usage: sixswarm tracker-check <announce-url>... [--list FILE|-] [--format table|json|markdown|html]
                              [--only-ipv6-ok | --only-failing] [--family 4|6|both] [--timeout S]
                              [--tracker-timeout S] [--total-timeout S] [--parallel N] [--requests N]
                              [--info-hash HEX] [--json]`;

const help = helpText({
  usage,
  options,
  about: `Check whether BitTorrent trackers (http://, https://, udp://) support IPv6 properly, and how
they fail when they do not. For each URL: resolve every A and AAAA address of its name (and its
BEP 34 TXT record), then at every address (up to ${MAX_ADDRESSES_PER_FAMILY} per family) run a short script of announces
and scrapes with throwaway peer ids on a random info hash, and print a matrix: one row per
check, one column per address (per family when the name has one address of it: a cell is about
requests sent to that address, so ipv6= is sent over IPv4 and shows in an IPv4 column). Each
cell is pass, fail, policy (a choice the tracker may rightly make, not a fault), n/a (cannot
apply: UDP has no ipv6=) or skipped (with the reason, e.g. an earlier check failed, or this host
has no global IPv6 address), with one line of evidence; each failure also says what the
tracker's operator should fix. Each family then gets a verdict ("1 of 2 AAAA addresses answer;
3 checks failed").

Checks:
  DNS (A / AAAA)                 the name has records of the family; each address is a column
  reachable                      a reply comes back from the address
  UDP: replies from that address replies come from the address and port asked, not from another
                                 of the tracker's addresses (clients with connected sockets,
                                 libtorrent and sixswarm among them, never see those)
  announce accepted              an announce gets a well-formed reply
  interval sane                  60 s <= interval <= 2 h, min interval <= interval
  UDP: 18-byte IPv6 entries      over IPv6, BEP 15 peers are 18 bytes, not 6
  peers / peers6 returned        a second peer gets the first: compact "peers" over IPv4,
                                 "peers6" over IPv6 (BEP 7, BEP 23)
  other family's peers           an IPv4 announcer gets the IPv6 peer and the reverse (HTTP), at
                                 every address of the name (one swarm behind the name)
  ipv6= / ipv4= honoured         our own global address of the other family, sent as BEP 7
                                 ipv6= (over IPv4) or ipv4= (over IPv6), is handed out (HTTP);
                                 not storing it is a policy (it can be abused), not a fault
  link-local ipv6=/ipv4= refused a link-local ipv6= / ipv4= is not handed out (litter check)
  scrape counts our peers        BEP 48 (HTTP) or BEP 15 scrape sees our seeds and leechers
  stopped removes our peers      after event=stopped, a later announce lists none of them
  unknown info hash answered     a scrape of a hash nobody announced: no entry or zeros
  malformed request refused      a failure reason (HTTP) or an error packet (UDP), not silence
  UDP: bad connection id refused an error packet for a connection id never issued
  UDP: retransmission answered   one announce sent twice with one transaction id gets two
                                 replies and counts one peer
  BEP 34 (DNS TXT)               a "BITTORRENT" TXT record, if any, lists this URL's protocol
                                 and port (not DENY), and the other ports it lists answer
UDP replies that are no reply to us (too short, a transaction id we never sent) are named in
the evidence of the request they left unanswered.`,
  notes: `What it announces, and what it leaves behind: only peers of its own, at our own addresses (the
ones the requests come from) on random ports nothing listens on, under a random info hash that
no real client will ever ask for. ipv6= and ipv4= carry only our own global unicast address of
that family (from the interfaces; the check is skipped without one). The litter check is the one
exception, and the least harmful one there is: it sends a link-local ipv6=fe80::<random> (over
IPv4) or ipv4=169.254.<random> (over IPv6) - addresses that reach nothing beyond one link, with
random host bits no real host is likely to have - on that same random hash, and stops it at
once. Every peer is stopped (event=stopped) before the command ends, also when it is interrupted
(SIGINT or SIGTERM: the remaining steps are skipped, what was done is printed; a second signal
ends it at once). A tracker that ignores stopped keeps them until they expire; that is what the
"stopped" row reports.

Bounded: at most ${REQUESTS_PER_ADDRESS} requests per tracker address, in eight steps one after another, each
request ending within --timeout, each tracker within --tracker-timeout, the run within
--total-timeout.

Exit codes: 0 every applicable check passed, 1 a check failed (or a tracker was not checked, or
a runtime failure), 2 bad usage (no URL, a malformed URL, list or option), 130 / 143 interrupted
by SIGINT / SIGTERM (what was done is printed).

Examples:
  sixswarm tracker-check http://tracker.example:6969/announce udp://tracker.example:6969
  sixswarm tracker-check udp://[2001:db8::1]:6969 --family 6 --json
  sixswarm tracker-check --list trackers_all.txt --format html > report.html
  sixswarm tracker-check --list trackers_all.txt --only-ipv6-ok > trackers_ipv6.txt
`,
});

interface Options {
  urls: TrackerUrl[];
  /** Whether the URLs came from --list (the table then shows the summary alone). */
  list: boolean;
  format: Format;
  filter?: Filter;
  families: Family[];
  timeoutMs: number;
  trackerBoundMs: number;
  totalBoundMs: number;
  parallel: number;
  requests: number;
  infoHash?: Buffer;
  /** The options that shape the verdicts, for the report's header. */
  shown: string;
}

async function parse(argv: string[]): Promise<Options> {
  const { values, positionals } = parseOptions(options, argv, { positionals: true });
  const format = values.format ?? (values.json ? 'json' : 'table');
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be table, json, markdown or html, got "${format}"`);
  if (values.json && format !== 'json') throw new UsageError(`--json and --format ${format} contradict each other; give one`);
  if (values['only-ipv6-ok'] && values['only-failing']) throw new UsageError('--only-ipv6-ok and --only-failing exclude each other; give one');
  const filter: Filter | undefined = values['only-ipv6-ok'] ? 'ipv6-ok' : values['only-failing'] ? 'failing' : undefined;
  if (filter && (values.format !== undefined || values.json)) throw new UsageError(`--only-${filter} prints URLs only; leave out --format / --json`);
  const family = values.family ?? 'both';
  if (family !== '4' && family !== '6' && family !== 'both') throw new UsageError(`--family must be 4, 6 or both, got "${family}"`);
  const hex = values['info-hash'];
  if (hex !== undefined && !/^[0-9a-fA-F]{40}$/.test(hex)) throw new UsageError(`--info-hash must be 40 hex digits, got "${hex}"`);
  const timeout = parseIntOption(values.timeout ?? '5', '--timeout', 1, 60);
  const trackerTimeout = parseIntOption(values['tracker-timeout'] ?? String(Math.min(300, Math.max(30, 12 * timeout))), '--tracker-timeout', 2 * timeout, 3600);
  const totalTimeout = parseIntOption(values['total-timeout'] ?? '1800', '--total-timeout', 2 * timeout, 7 * 86400);
  const parallel = parseIntOption(values.parallel ?? '8', '--parallel', 1, 64);
  const requests = parseIntOption(values.requests ?? '4', '--requests', 1, 16);

  const urls = positionals.map((text) => {
    try {
      return parseTrackerUrl(text);
    } catch (e) {
      throw new UsageError(errorMessage(e));
    }
  });
  if (values.list !== undefined) {
    const name = values.list === '-' ? 'standard input' : values.list;
    const parsed = parseList(await readList(values.list), name);
    for (const bad of parsed.bad) process.stderr.write(`skipped ${bad}\n`);
    const known = new Set(urls.map((u) => u.text));
    urls.push(...parsed.urls.filter((u) => !known.has(u.text)));
    if (parsed.urls.length === 0) throw new UsageError(`${name} lists no tracker URL (one http://, https:// or udp:// URL a line)`);
  }
  if (urls.length === 0) throw new UsageError('give at least one announce URL (http://, https:// or udp://) or --list FILE; see --help');
  const shown = [
    `--family ${family}`, `--timeout ${timeout}`, `--tracker-timeout ${trackerTimeout}`, `--total-timeout ${totalTimeout}`,
    `--parallel ${parallel}`, `--requests ${requests}`, ...(hex ? [`--info-hash ${hex.toLowerCase()}`] : []),
  ].join(' ');
  return {
    urls,
    list: values.list !== undefined,
    format: format as Format,
    ...(filter ? { filter } : {}),
    families: family === 'both' ? [4, 6] : [Number(family) as Family],
    timeoutMs: timeout * 1000,
    trackerBoundMs: trackerTimeout * 1000,
    totalBoundMs: totalTimeout * 1000,
    parallel,
    requests,
    ...(hex ? { infoHash: Buffer.from(hex, 'hex') } : {}),
    shown,
  };
}

/** Where results go while the run goes on, and at its end. */
interface Output {
  started(i: number): void;
  step(i: number, step: string): void;
  done(i: number, r: TrackerReport): void;
  finish(entries: ListEntry[], run: RunInfo): Promise<void>;
}

const write = (s: string) => new Promise<void>((resolve) => (process.stdout.write(s) ? resolve() : process.stdout.once('drain', resolve)));

async function output(o: Options): Promise<Output> {
  const matrices = o.format === 'table' && !o.filter && !o.list;
  const summary = o.format === 'table' && !o.filter && (o.list || o.urls.length > 1);
  const onTerminal = o.format === 'table' && !o.filter && process.stdout.isTTY;
  // Live progress: in the table on a terminal, or on stderr when that is one (stdout piped).
  const liveStream = onTerminal ? process.stdout : process.stderr.isTTY ? process.stderr : undefined;
  const final = async (entries: ListEntry[], run: RunInfo) => {
    if (o.filter) await write(filtered(entries, o.filter).map((u) => `${u}\n`).join(''));
    else if (o.format === 'json') await write(`${JSON.stringify({ type: 'tracker-check-summary', ...run, ...tally(entries), rows: entries.map(summaryRow) })}\n`);
    else if (o.format === 'markdown') await write(renderMarkdown(entries, run));
    else if (o.format === 'html') await write(renderHtml(entries, run));
    else if (summary) await write(`${onTerminal && !o.list ? '\n' : ''}${renderSummaryText(entries)}`);
  };
  const order = new InOrder();
  const printDone = (r: TrackerReport) => {
    if (o.format === 'json' && !o.filter) process.stdout.write(`${JSON.stringify(r)}\n`);
    else if (matrices && !onTerminal) process.stdout.write(`${renderText(r)}\n`);
  };
  if (!liveStream) {
    return {
      started: () => undefined,
      step: () => undefined,
      done: (i, r) => order.put(i, r, printDone),
      async finish(entries, run) {
        order.skip(entries, printDone);
        await final(entries, run);
      },
    };
  }

  // Loaded only for a terminal: ink and react cost most of a second of start-up.
  const [{ render }, { createElement }, { TrackerCheckView }] = await Promise.all([import('ink'), import('react'), import('./ui/check-table.js')]);
  const t0 = Date.now();
  const shown: TrackerReport[] = [];
  const running = new Map<number, { url: string; step: string }>();
  let finished = 0;
  const props = (): CheckViewProps => ({
    done: [...shown],
    running: [...running.values()],
    progress: o.urls.length > 1 ? { done: finished, total: o.urls.length, elapsedMs: Date.now() - t0 } : undefined,
    columns: liveStream.columns || 120,
  });
  const ink = render(createElement(TrackerCheckView, props()), { exitOnCtrlC: false, stdout: liveStream as NodeJS.WriteStream, patchConsole: false });
  const redraw = () => ink.rerender(createElement(TrackerCheckView, props()));
  const show = (r: TrackerReport) => (matrices && onTerminal ? shown.push(r) : printDone(r));
  const ticker = setInterval(redraw, 500);
  return {
    started(i) {
      running.set(i, { url: printable(o.urls[i]!.text, 200), step: 'starting' });
      redraw();
    },
    step(i, step) {
      const r = running.get(i);
      if (r) r.step = step;
      redraw();
    },
    done(i, r) {
      running.delete(i);
      finished++;
      order.put(i, r, show);
      redraw();
    },
    async finish(entries, run) {
      clearInterval(ticker);
      running.clear();
      order.skip(entries, show);
      ink.rerender(createElement(TrackerCheckView, { ...props(), progress: undefined }));
      ink.unmount();
      await ink.waitUntilExit();
      await final(entries, run);
    },
  };
}

/** Reports handed on in list order: a finished one waits for those listed before it. */
class InOrder {
  private readonly waiting = new Map<number, TrackerReport | undefined>();
  private next = 0;

  put(i: number, r: TrackerReport, emit: (r: TrackerReport) => void): void {
    this.waiting.set(i, r);
    this.drain(emit);
  }

  /** At the end: the trackers that never ran no longer hold back those after them. */
  skip(entries: ListEntry[], emit: (r: TrackerReport) => void): void {
    entries.forEach((e, i) => {
      if ('notChecked' in e) this.waiting.set(i, undefined);
    });
    this.drain(emit);
  }

  private drain(emit: (r: TrackerReport) => void): void {
    for (; this.waiting.has(this.next); this.next++) {
      const w = this.waiting.get(this.next);
      this.waiting.delete(this.next);
      if (w) emit(w);
    }
  }
}

async function run(argv: string[]): Promise<number> {
  const o = await parse(argv);
  const own = new OwnAddresses().get();
  const abort = new AbortController();
  const signals = stopSignals();
  let signal: NodeJS.Signals | undefined;
  void signals.stopped.then((sig) => {
    signal = sig;
    signals.dispose(); // a second signal ends the process at once
    process.stderr.write('interrupted: stopping the peers announced so far, then printing what is done\n');
    abort.abort();
  });
  const out = await output(o);
  const startedAt = new Date();
  let entries: ListEntry[] = [];
  try {
    entries = await checkAll(o.urls, {
      families: o.families,
      timeoutMs: o.timeoutMs,
      requests: o.requests,
      own,
      parallel: o.parallel,
      trackerBoundMs: o.trackerBoundMs,
      totalBoundMs: o.totalBoundMs,
      signal: abort.signal,
      onStart: (i) => out.started(i),
      onStep: (i, s) => out.step(i, s),
      onDone: (i, r) => out.done(i, r),
      ...(o.infoHash ? { infoHash: o.infoHash } : {}),
    });
  } finally {
    signals.dispose();
    await out.finish(entries, {
      host: hostname(),
      startedAt: startedAt.toISOString(),
      elapsedMs: Date.now() - startedAt.getTime(),
      version: VERSION,
      options: o.shown,
      ...(signal ? { interrupted: true } : {}),
    });
  }
  if (signal) return signalExitCode(signal);
  const t = tally(entries);
  if (t.notChecked > 0) process.stderr.write(`${t.notChecked} tracker${t.notChecked === 1 ? ' was' : 's were'} not checked (see the summary); raise --total-timeout or --parallel\n`);
  return t.pass === t.trackers ? 0 : 1;
}

export const trackerCheck: Command = {
  name: 'tracker-check',
  summary: 'check whether trackers support IPv6 properly (a matrix of checks per address, lists, reports)',
  usage,
  options,
  help,
  run,
};
