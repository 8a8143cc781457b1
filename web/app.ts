/**
 * sixswarm's web page (built into dist/web/app.js): the terminal UI's IPv6 view in a browser.
 * It reads the daemon's live updates (/sixswarm/events: a snapshot, then what changed each
 * second) and acts through the Transmission RPC the daemon serves (add, pause, resume, re-check,
 * remove), with its session-id handshake. Text from torrents, peers and trackers only ever goes
 * into the page as text, never as markup.
 */
import type { AddressStatus, PeerStatus, TorrentDetail, TorrentSummary, TrackerStatus } from '../src/status/feed.js';
import type { PageSnapshot, PageUpdate, RateHistory } from '../src/daemon/web-types.js';
import { applyUpdate, fromSnapshot, type PageState } from '../src/daemon/page-state.js';
import { eta, formatDuration, lsdInterfaces, percent, ratio, shortRate, shortSize } from '../cli/ui/format.js';
import { peerFlags, peerLines, VIA_LABEL } from '../cli/ui/peer-lines.js';

type Child = Node | string | number | null | undefined | false;

/** An element with attributes and children; strings become text nodes. */
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    if (k === 'style') el.style.cssText = String(v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
  return el;
}

function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const SVG = 'http://www.w3.org/2000/svg';
const HISTORY = 120;

// ---- state ---------------------------------------------------------------------------------------

/** What the event stream said so far (undefined until its snapshot). */
let state: PageState | undefined;
let selected: string | undefined;
let view: 'list' | 'detail' | 'network' = 'list';
let tab: 'peers' | 'trackers' | 'files' | 'pieces' = 'peers';
let events: EventSource | undefined;

// ---- the RPC -------------------------------------------------------------------------------------

let sessionId = '';

/** One Transmission RPC call; a 409 hands us the session id, and the call goes again. */
async function rpc(method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const res = await fetch('transmission/rpc', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Transmission-Session-Id': sessionId },
      body: JSON.stringify({ method, arguments: args }),
    });
    if (res.status === 409) {
      sessionId = res.headers.get('X-Transmission-Session-Id') ?? '';
      continue;
    }
    if (!res.ok) throw new Error(`${res.status} ${(await res.text()).trim()}`);
    const body = (await res.json()) as { result: string; arguments?: Record<string, unknown> };
    if (body.result !== 'success') throw new Error(body.result);
    return body.arguments ?? {};
  }
  throw new Error('the daemon keeps refusing our session id');
}

function say(text: string, error = false): void {
  const m = byId<HTMLParagraphElement>('message');
  m.textContent = text;
  m.className = error ? 'message error' : 'message';
  m.hidden = false;
}

async function act(what: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
    say(what);
  } catch (e) {
    say(`${what}: failed: ${(e as Error).message}`, true);
  }
}

// ---- live updates --------------------------------------------------------------------------------

function connect(): void {
  events?.close();
  const live = byId<HTMLSpanElement>('live');
  events = new EventSource(`sixswarm/events${selected ? `?detail=${selected}` : ''}`);
  events.addEventListener('snapshot', (ev) => {
    state = fromSnapshot(JSON.parse((ev as MessageEvent<string>).data) as PageSnapshot);
    live.textContent = 'live';
    live.className = 'live';
    render();
  });
  events.addEventListener('update', (ev) => {
    if (!state) return;
    state = applyUpdate(state, JSON.parse((ev as MessageEvent<string>).data) as PageUpdate, HISTORY);
    render();
  });
  events.onerror = () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  };
}

// ---- rendering -----------------------------------------------------------------------------------

function chart(svg: SVGSVGElement, history: RateHistory): void {
  const max = Math.max(1, ...history.down, ...history.up);
  const line = (values: number[], cls: string) => {
    const el = document.createElementNS(SVG, 'polyline');
    const start = HISTORY - values.length;
    el.setAttribute('points', values.map((v, i) => `${((start + i) / (HISTORY - 1)) * 240},${40 - (v / max) * 38}`).join(' '));
    el.setAttribute('class', cls);
    return el;
  };
  svg.replaceChildren(line(history.down, 'down'), line(history.up, 'up'));
  svg.setAttribute('aria-label', `rate history: down ${shortRate(history.down.at(-1) ?? 0)}, up ${shortRate(history.up.at(-1) ?? 0)}, peak ${shortRate(max)}`);
}

const STATE_TEXT: Record<TorrentSummary['state'], string> = {
  'fetching-metadata': 'fetching metadata',
  checking: 'checking',
  downloading: 'downloading',
  seeding: 'seeding',
  stopped: 'stopped',
  error: 'error',
  paused: 'paused',
};

function stateBadge(t: TorrentSummary): HTMLElement {
  const checking = t.state === 'checking' && t.checking ? ` ${percent((t.checking.checkedBytes / Math.max(1, t.checking.totalBytes)) * 100)}` : '';
  return h('span', { class: `state${t.state === 'error' ? ' error' : ''}` }, STATE_TEXT[t.state] + checking);
}

function familyCounts(t: Pick<TorrentSummary, 'peers4' | 'peers6'>): HTMLElement {
  return h('span', {}, h('span', { class: 'v6' }, `IPv6 ${t.peers6}`), ' · ', h('span', { class: 'v4' }, `IPv4 ${t.peers4}`));
}

function card(t: TorrentSummary): HTMLLIElement {
  const paused = t.state === 'paused' || t.state === 'stopped' || t.state === 'error';
  const open = h('button', { type: 'button', class: 'name', title: 'details' }, t.name);
  open.addEventListener('click', () => select(t.infoHash));
  const toggle = h('button', { type: 'button', 'data-action': paused ? 'resume' : 'pause' }, paused ? 'Resume' : 'Pause');
  toggle.addEventListener('click', () => void act(`${paused ? 'resumed' : 'paused'} ${t.name}`, () => rpc(paused ? 'torrent-start' : 'torrent-stop', { ids: [t.infoHash] })));
  const recheck = h('button', { type: 'button', 'data-action': 'recheck' }, 'Re-check');
  recheck.addEventListener('click', () => void act(`re-checking ${t.name}`, () => rpc('torrent-verify', { ids: [t.infoHash] })));
  const remove = h('button', { type: 'button', 'data-action': 'remove', class: 'danger' }, 'Remove');
  remove.addEventListener('click', () => confirmRemove(t));
  return h(
    'li',
    { class: 'torrent', 'data-hash': t.infoHash },
    h('div', {}, open, stateBadge(t)),
    h('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': String(t.percent), 'aria-valuemin': '0', 'aria-valuemax': '100' }, h('span', { style: `width:${Math.min(100, t.percent)}%` })),
    h(
      'div',
      { class: 'row' },
      h('span', {}, `${percent(t.percent)} of ${shortSize(t.selected?.bytes ?? t.totalBytes)}`),
      h('span', { class: 'down' }, `↓ ${shortRate(t.downRate)}`),
      h('span', { class: 'up' }, `↑ ${shortRate(t.upRate)}`),
      familyCounts(t),
      h('span', {}, `ratio ${ratio(t.ratio)}`),
      t.eta !== null ? h('span', {}, `eta ${eta(t.eta)}`) : null,
    ),
    t.error ? h('div', { class: 'row bad' }, t.error) : null,
    h('div', { class: 'actions' }, toggle, recheck, remove),
  );
}

function renderList(): void {
  const torrents = state?.torrents ?? [];
  const totals = state?.totals ?? { down: [], up: [] };
  const list = byId<HTMLUListElement>('torrents');
  list.replaceChildren(...torrents.map(card));
  byId('empty').hidden = torrents.length > 0;
  chart(byId<SVGSVGElement & HTMLElement>('total-chart'), totals);
}

function renderTotals(): void {
  const torrents = state?.torrents ?? [];
  const down = torrents.reduce((n, t) => n + t.downRate, 0);
  const up = torrents.reduce((n, t) => n + t.upRate, 0);
  byId('totals').textContent = `${torrents.length} torrent${torrents.length === 1 ? '' : 's'} · ↓ ${shortRate(down)} · ↑ ${shortRate(up)}`;
}

function peerTable(peers: readonly PeerStatus[]): HTMLElement {
  if (peers.length === 0) return h('p', { class: 'empty' }, 'No peers connected.');
  const rows = peerLines(peers).map((l) => {
    const cls = l.via === 'ipv4' ? 'v4' : l.via === 'tunnel' ? 'tunnel' : 'v6';
    if (l.kind === 'group') return h('tr', { class: `group ${cls}`, 'data-family': l.via }, h('td', { colspan: '7' }, `${VIA_LABEL[l.via]} — ${l.count} peer${l.count === 1 ? '' : 's'}`));
    const p = l.peer!;
    return h(
      'tr',
      { 'data-via': l.via },
      h('td', { class: `addr ${cls}` }, p.address),
      h('td', { class: 'wide' }, p.client),
      h('td', { class: 'down' }, shortRate(p.downRate)),
      h('td', { class: 'up' }, shortRate(p.upRate)),
      h('td', {}, `${Math.floor(p.progress * 100)}%`),
      h('td', { class: 'wide' }, peerFlags(p)),
      h('td', {}, p.source),
    );
  });
  // On a phone the client and flag columns give way (.wide): address, rates and source fit.
  const head = ['Address', 'Client', 'Down', 'Up', 'Has', 'Flags', 'Learned from'].map((c) => h('th', { class: c === 'Client' || c === 'Flags' ? 'wide' : undefined }, c));
  return h('table', {}, h('thead', {}, h('tr', {}, ...head)), h('tbody', {}, ...rows));
}

function ago(at: number): string {
  return at ? `${formatDuration(Math.max(0, (Date.now() - at) / 1000))} ago` : 'never';
}

function trackerTable(trackers: readonly TrackerStatus[]): HTMLElement {
  if (trackers.length === 0) return h('p', { class: 'empty' }, 'No tracker announced yet.');
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...['Tracker', 'Over', 'Last', 'Next', 'IPv6 peers', 'IPv4 peers', 'Says'].map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...trackers.map((r) =>
        h(
          'tr',
          {},
          h('td', { class: 'addr' }, r.url),
          h('td', { class: r.family === 6 ? 'v6' : 'v4' }, `IPv${r.family}`),
          h('td', {}, ago(r.lastAnnounce)),
          h('td', {}, r.nextAnnounce ? `in ${formatDuration(Math.max(0, (r.nextAnnounce - Date.now()) / 1000))}` : '-'),
          h('td', {}, r.peers6),
          h('td', {}, r.peers4),
          h('td', { class: r.error ? 'bad' : '' }, r.error ?? r.warning ?? 'ok'),
        ),
      ),
    ),
  );
}

function fileTable(d: TorrentDetail): HTMLElement {
  if (d.files.length === 0) return h('p', { class: 'empty' }, 'The file list comes with the metadata.');
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...['File', 'Size', 'Done'].map((c) => h('th', {}, c)))),
    h('tbody', {}, ...d.files.map((f) => h('tr', {}, h('td', { class: 'addr' }, f.path + (f.selected ? '' : ' (skipped)')), h('td', {}, shortSize(f.length)), h('td', {}, percent(f.length ? (f.haveBytes / f.length) * 100 : 100))))),
  );
}

function pieceMap(d: TorrentDetail): HTMLElement {
  const max = Math.max(1, ...d.pieceMap.availability);
  return h(
    'div',
    {},
    h('p', {}, `${d.have} of ${d.pieces} pieces verified; below, how many peers have each part.`),
    h('div', { class: 'pieces', 'aria-label': 'pieces we have' }, ...d.pieceMap.have.map((f) => h('span', { style: `opacity:${0.12 + 0.88 * f}` }))),
    h('div', { class: 'avail', 'aria-label': 'availability in the swarm' }, ...d.pieceMap.availability.map((a) => h('span', { style: `opacity:${0.12 + (0.88 * a) / max}` }))),
  );
}

function renderDetail(): void {
  const detail = state?.detail;
  const section = byId('detail-view');
  const t = detail?.torrent;
  const back = h('button', { type: 'button' }, '← All torrents');
  back.addEventListener('click', () => select(undefined));
  if (!t || t.infoHash !== selected) {
    section.replaceChildren(back, h('p', { class: 'empty' }, 'Loading…'));
    return;
  }
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  for (const name of ['peers', 'trackers', 'files', 'pieces'] as const) {
    const b = h('button', { type: 'button', role: 'tab', class: tab === name ? 'on' : '', 'data-tab': name }, name[0]!.toUpperCase() + name.slice(1));
    b.addEventListener('click', () => {
      tab = name;
      renderDetail();
    });
    tabs.append(b);
  }
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', '0 0 240 40');
  svg.setAttribute('preserveAspectRatio', 'none');
  chart(svg, detail!.history);
  const peers = t.peerList;
  const panel = tab === 'peers' ? peerTable(peers) : tab === 'trackers' ? trackerTable(t.trackers) : tab === 'files' ? fileTable(t) : pieceMap(t);
  section.replaceChildren(
    back,
    h('div', { class: 'detail-head' }, h('h2', {}, t.name), stateBadge(t)),
    h(
      'div',
      { class: 'families' },
      h('span', { class: 'v6' }, `IPv6 ${peers.filter((p) => p.via === 'ipv6').length}`),
      h('span', { class: 'tunnel' }, `via tunnel ${peers.filter((p) => p.via === 'tunnel').length}`),
      h('span', { class: 'v4' }, `IPv4 ${peers.filter((p) => p.via === 'ipv4').length}`),
      h('span', { class: 'down' }, `↓ ${shortRate(t.downRate)}`),
      h('span', { class: 'up' }, `↑ ${shortRate(t.upRate)}`),
      h('span', {}, `${percent(t.percent)} of ${shortSize(t.totalBytes)}`),
    ),
    svg,
    tabs,
    h('div', { class: 'panel' }, panel),
  );
}

function addressList(list: readonly AddressStatus[]): HTMLElement {
  if (list.length === 0) return h('p', { class: 'empty' }, 'No address besides loopback.');
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...['Address', 'Family', 'Class', 'Told to peers', 'Interface'].map((c) => h('th', {}, c)))),
    h('tbody', {}, ...list.map((a) => h('tr', {}, h('td', { class: `addr ${a.kind === 'tunnel' ? 'tunnel' : a.family === 6 ? 'v6' : 'v4'}` }, a.address), h('td', {}, `IPv${a.family}`), h('td', {}, a.kind), h('td', {}, a.advertised ? 'yes' : ''), h('td', {}, a.ifname ?? '')))),
  );
}

function renderNetwork(): void {
  const section = byId('network-view');
  const engine = state?.engine;
  const daemonInfo = state?.daemon;
  if (!engine) return;
  const reached = ([6, 4] as const).map((f) => {
    const r = engine!.reached[f];
    return h('dd', { class: r ? (f === 6 ? 'v6' : 'v4') : 'bad' }, r ? `yes: ${r.from} (${r.kind}) ${ago(r.at)}` : 'not yet: no peer has connected to us over this family');
  });
  const tunnel = engine.tunnel;
  section.replaceChildren(
    h('h3', {}, 'Reached from outside'),
    h('dl', { class: 'kv' }, h('dt', {}, 'IPv6'), reached[0]!, h('dt', {}, 'IPv4'), reached[1]!),
    h('h3', {}, 'Our addresses'),
    h('div', { class: 'panel' }, addressList(engine.addresses)),
    h('h3', {}, 'Listening'),
    h('ul', {}, ...engine.listening.map((l) => h('li', { class: l.family === 6 ? 'v6' : 'v4' }, `${l.family === 6 ? `[${l.address}]` : l.address}:${l.port} (IPv${l.family})`))),
    h('p', {}, `peers over ${engine.transports.map((k) => (k === 'utp' ? 'uTP' : 'TCP')).join(' and ')}`),
    h('h3', {}, 'Tunnel'),
    tunnel
      ? h('dl', { class: 'kv' }, h('dt', {}, 'state'), h('dd', { class: 'tunnel' }, tunnel.state), h('dt', {}, 'server'), h('dd', {}, tunnel.server), h('dt', {}, 'prefix'), h('dd', {}, tunnel.prefix ?? '-'), h('dt', {}, 'address'), h('dd', {}, tunnel.address ?? '-'), h('dt', {}, 'traffic'), h('dd', {}, `in ${shortSize(tunnel.bytesIn)}, out ${shortSize(tunnel.bytesOut)}`))
      : h('p', { class: 'empty' }, 'No tunnel (the daemon runs one with --tunnel).'),
    h('h3', {}, 'DHT'),
    h('p', {}, engine.dht ? `node on ${engine.dht.address}:${engine.dht.port} (IPv4), ${engine.dht.nodes} nodes known, ${engine.dht.lookups} lookups` : 'off'),
    h('h3', {}, 'Local peer discovery'),
    h('p', {}, engine.lsd ? `${lsdInterfaces(engine.lsd.interfaces)}: sent ${engine.lsd.sent}, heard ${engine.lsd.heard} (${engine.lsd.peers} for our torrents)` : 'off'),
    h('p', { class: 'empty' }, daemonInfo ? `sixswarm ${daemonInfo.version}; session ${daemonInfo.session}; downloads go to ${daemonInfo.downloadDir}` : ''),
  );
}

function render(): void {
  renderTotals();
  byId('list-view').hidden = view !== 'list';
  byId('detail-view').hidden = view !== 'detail';
  byId('network-view').hidden = view !== 'network';
  byId('show-torrents').className = view === 'network' ? '' : 'on';
  byId('show-network').className = view === 'network' ? 'on' : '';
  if (view === 'list') renderList();
  else if (view === 'detail') renderDetail();
  else renderNetwork();
}

function select(hash: string | undefined): void {
  selected = hash;
  view = hash ? 'detail' : 'list';
  if (state) state = { ...state, detail: undefined };
  tab = 'peers';
  connect();
  render();
}

// ---- actions -------------------------------------------------------------------------------------

function confirmRemove(t: TorrentSummary): void {
  const dialog = byId<HTMLDialogElement>('confirm-remove');
  byId('confirm-text').textContent = `Remove "${t.name}" from the session?`;
  dialog.onclose = () => {
    if (dialog.returnValue === 'keep' || dialog.returnValue === 'delete') {
      const del = dialog.returnValue === 'delete';
      void act(`removed ${t.name}${del ? ' and its files' : '; its data stays'}`, () => rpc('torrent-remove', { ids: [t.infoHash], 'delete-local-data': del }));
      if (selected === t.infoHash) select(undefined);
    }
  };
  dialog.returnValue = '';
  dialog.showModal();
}

function base64(bytes: ArrayBuffer): string {
  const b = new Uint8Array(bytes);
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function added(reply: Record<string, unknown>): string {
  const t = (reply['torrent-added'] ?? reply['torrent-duplicate']) as { name?: string } | undefined;
  return reply['torrent-duplicate'] ? `"${t?.name}" is already in the session` : `added ${t?.name ?? ''}`;
}

function setUp(): void {
  const form = byId<HTMLFormElement>('add-form');
  const input = byId<HTMLInputElement>('magnet');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const link = input.value.trim();
    if (!link) return say('paste a magnet link, or upload a .torrent file', true);
    void rpc('torrent-add', { filename: link }).then(
      (r) => {
        say(added(r));
        input.value = '';
      },
      (e: Error) => say(`cannot add it: ${e.message}`, true),
    );
  });
  const upload = byId<HTMLInputElement>('upload');
  upload.addEventListener('change', () => {
    for (const file of upload.files ?? []) {
      void file
        .arrayBuffer()
        .then((buf) => rpc('torrent-add', { metainfo: base64(buf) }))
        .then(
          (r) => say(added(r)),
          (e: Error) => say(`cannot add ${file.name}: ${e.message}`, true),
        );
    }
    upload.value = '';
  });
  byId('show-torrents').addEventListener('click', () => select(undefined));
  byId('show-network').addEventListener('click', () => {
    view = 'network';
    render();
  });
  connect();
}

setUp();
