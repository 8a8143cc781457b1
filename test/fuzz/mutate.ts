/**
 * The fuzzers' mutation engine, shared by the seeded runs in the fuzz tests and by
 * scripts/fuzz.mjs: a seeded random source, byte-level mutations (flips, splices, truncations,
 * length-field and decimal-number edits, dictionary tokens) and structure-aware ones for
 * bencode (a tolerant tree of the input, edited and written back with its keys in any order and
 * duplicates kept, so what comes out is what a hostile encoder could send).
 */

/** A small, fast, seeded generator (mulberry32): the same seed gives the same mutations everywhere. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  pick<T>(list: readonly T[]): T {
    return list[this.below(list.length)]!;
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** What a target tells the mutator about its inputs. */
export interface MutationHints {
  /** Longest input worth generating (longer ones are cut). */
  maxLen: number;
  /** Byte strings that mean something to the parser (keys, markers, prefixes). */
  tokens: readonly Buffer[];
  /** The input is (or starts with) bencode: structure-aware edits apply. */
  bencode?: boolean;
}

const INTERESTING_U8 = [0, 1, 0x7f, 0x80, 0xff, 0x30, 0x39, 0x3a, 0x64, 0x65, 0x69, 0x6c, 0x2d];
const INTERESTING_U16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x200, 0x201, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING_U32 = [0, 1, 2, 5, 9, 13, 17, 0x3fff, 0x4000, 0x4001, 0x4009, 0x7fff, 0xffff, 0x10000, 0x10001, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
/** Decimal edits: what bencode lengths and integers, and magnet or query numbers, should survive. */
const INTERESTING_DECIMAL = [
  '0', '1', '00', '01', '-0', '-1', '-', '', '20', '26', '65535', '65536', '16384', '16385',
  '2147483647', '2147483648', '4294967295', '4294967296', '9007199254740991', '9007199254740992',
  '9223372036854775807', '18446744073709551616', '99999999999999999999', '999999999999', '1e3', '0x10', ' 1',
];

/** Helpers that take and return fresh buffers; `rng` decides every choice. */
function flipBit(rng: Rng, b: Buffer): Buffer {
  if (b.length === 0) return rng.bytes(1);
  const out = Buffer.from(b);
  out[rng.below(out.length)]! ^= 1 << rng.below(8);
  return out;
}

function setByte(rng: Rng, b: Buffer): Buffer {
  if (b.length === 0) return rng.bytes(1);
  const out = Buffer.from(b);
  out[rng.below(out.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_U8) : rng.u32() & 0xff;
  return out;
}

function insertBytes(rng: Rng, b: Buffer): Buffer {
  const at = rng.below(b.length + 1);
  const n = 1 + rng.below(rng.chance(0.8) ? 4 : 64);
  const fill = rng.chance(0.5) ? rng.bytes(n) : Buffer.alloc(n, rng.pick(INTERESTING_U8));
  return Buffer.concat([b.subarray(0, at), fill, b.subarray(at)]);
}

function deleteRange(rng: Rng, b: Buffer): Buffer {
  if (b.length < 2) return b;
  const at = rng.below(b.length);
  const n = 1 + rng.below(Math.min(b.length - at, rng.chance(0.8) ? 8 : b.length));
  return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
}

function duplicateRange(rng: Rng, b: Buffer): Buffer {
  if (b.length === 0) return b;
  const from = rng.below(b.length);
  const n = 1 + rng.below(Math.min(b.length - from, 64));
  const to = rng.below(b.length + 1);
  const piece = b.subarray(from, from + n);
  const times = rng.chance(0.8) ? 1 : 1 + rng.below(16);
  return Buffer.concat([b.subarray(0, to), ...Array<Buffer>(times).fill(piece), b.subarray(to)]);
}

function truncate(rng: Rng, b: Buffer): Buffer {
  if (b.length === 0) return b;
  return rng.chance(0.8) ? b.subarray(0, rng.below(b.length)) : b.subarray(1 + rng.below(b.length));
}

function splice(rng: Rng, a: Buffer, b: Buffer): Buffer {
  return Buffer.concat([a.subarray(0, rng.below(a.length + 1)), b.subarray(rng.below(b.length + 1))]);
}

/** Overwrite a big-endian (sometimes little-endian) 8/16/32-bit field with a value at or near a limit. */
function lengthField(rng: Rng, b: Buffer): Buffer {
  if (b.length === 0) return b;
  const out = Buffer.from(b);
  const width = rng.pick([1, 2, 2, 4, 4, 4]);
  if (out.length < width) return setByte(rng, b);
  const at = rng.below(out.length - width + 1);
  let v: number;
  if (width === 1) v = rng.pick(INTERESTING_U8);
  else if (width === 2) v = rng.chance(0.7) ? rng.pick(INTERESTING_U16) : (out.readUInt16BE(at) + rng.pick([-1, 1, -2, 2])) & 0xffff;
  else if (rng.chance(0.3)) v = (out.length - at - width + rng.pick([-1, 0, 1])) >>> 0; // "the rest of the input", off by one
  else v = rng.chance(0.7) ? rng.pick(INTERESTING_U32) : (out.readUInt32BE(at) + rng.pick([-1, 1, 16384])) >>> 0;
  if (width === 1) out[at] = v;
  else if (width === 2) rng.chance(0.85) ? out.writeUInt16BE(v, at) : out.writeUInt16LE(v, at);
  else out.writeUInt32BE(v, at);
  return out;
}

/** Replace one run of ASCII digits (optionally signed) with a number at a limit. */
function decimalField(rng: Rng, b: Buffer): Buffer {
  const runs: [number, number][] = [];
  for (let i = 0; i < b.length && runs.length < 256; ) {
    if ((b[i]! >= 0x30 && b[i]! <= 0x39) || (b[i] === 0x2d && b[i + 1]! >= 0x30 && b[i + 1]! <= 0x39)) {
      const start = i;
      i++;
      while (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
      runs.push([start, i]);
    } else i++;
  }
  if (runs.length === 0) return setByte(rng, b);
  const [start, end] = rng.pick(runs);
  const current = Number(b.toString('latin1', start, end));
  const text = rng.chance(0.6)
    ? rng.pick(INTERESTING_DECIMAL)
    : String(rng.pick([current + 1, current - 1, current * 2, current + 20, Math.floor(current / 2), b.length - end, b.length - end + 1]));
  return Buffer.concat([b.subarray(0, start), Buffer.from(text, 'latin1'), b.subarray(end)]);
}

function insertToken(rng: Rng, b: Buffer, tokens: readonly Buffer[]): Buffer {
  if (tokens.length === 0) return insertBytes(rng, b);
  const t = rng.pick(tokens);
  const at = rng.below(b.length + 1);
  if (rng.chance(0.3) && b.length >= t.length) {
    const out = Buffer.from(b);
    t.copy(out, Math.min(at, b.length - t.length));
    return out;
  }
  return Buffer.concat([b.subarray(0, at), t, b.subarray(at)]);
}

// ---- bencode, tolerantly ----

/** A bencoded value as written: integers keep their text, dictionaries their order and duplicates. */
type BNode =
  | { t: 'i'; text: string }
  | { t: 's'; bytes: Buffer }
  | { t: 'l'; items: BNode[] }
  | { t: 'd'; entries: [Buffer, BNode][] };

/** Parse the bencoded value at the front of `b` without judging it; undefined when it is not bencode at all. */
function parseTree(b: Buffer): { node: BNode; end: number } | undefined {
  let pos = 0;
  let budget = 20_000;
  const value = (depth: number): BNode | undefined => {
    if (--budget < 0 || depth > 200 || pos >= b.length) return undefined;
    const c = b[pos]!;
    if (c === 0x69) {
      const end = b.indexOf(0x65, pos + 1);
      if (end < 0) return undefined;
      const text = b.toString('latin1', pos + 1, end);
      pos = end + 1;
      return { t: 'i', text };
    }
    if (c >= 0x30 && c <= 0x39) {
      const colon = b.indexOf(0x3a, pos);
      if (colon < 0 || colon - pos > 10) return undefined;
      const len = Number(b.toString('latin1', pos, colon));
      if (!Number.isSafeInteger(len) || colon + 1 + len > b.length) return undefined;
      pos = colon + 1 + len;
      return { t: 's', bytes: b.subarray(colon + 1, pos) };
    }
    if (c === 0x6c || c === 0x64) {
      pos++;
      const items: BNode[] = [];
      const entries: [Buffer, BNode][] = [];
      while (pos < b.length && b[pos] !== 0x65) {
        if (c === 0x6c) {
          const v = value(depth + 1);
          if (!v) return undefined;
          items.push(v);
        } else {
          const k = value(depth + 1);
          if (!k || k.t !== 's') return undefined;
          const v = value(depth + 1);
          if (!v) return undefined;
          entries.push([k.bytes, v]);
        }
      }
      if (pos >= b.length) return undefined;
      pos++;
      return c === 0x6c ? { t: 'l', items } : { t: 'd', entries };
    }
    return undefined;
  };
  const node = value(0);
  return node ? { node, end: pos } : undefined;
}

/** Write a tree back exactly as it stands (keys in their order, duplicates kept). */
function writeTree(node: BNode): Buffer {
  const out: Buffer[] = [];
  const w = (n: BNode): void => {
    switch (n.t) {
      case 'i':
        out.push(Buffer.from(`i${n.text}e`, 'latin1'));
        break;
      case 's':
        out.push(Buffer.from(`${n.bytes.length}:`, 'latin1'), n.bytes);
        break;
      case 'l':
        out.push(Buffer.from('l'));
        n.items.forEach(w);
        out.push(Buffer.from('e'));
        break;
      case 'd':
        out.push(Buffer.from('d'));
        for (const [k, v] of n.entries) {
          out.push(Buffer.from(`${k.length}:`, 'latin1'), k);
          w(v);
        }
        out.push(Buffer.from('e'));
        break;
    }
  };
  w(node);
  return Buffer.concat(out);
}

/** Every node of the tree (the root held in `holder`) with a way to replace it, in document order. */
function slots(holder: { root: BNode }): { node: BNode; set: (n: BNode) => void }[] {
  const out: { node: BNode; set: (n: BNode) => void }[] = [{ node: holder.root, set: (n) => (holder.root = n) }];
  const walk = (n: BNode): void => {
    if (out.length > 4000) return;
    if (n.t === 'l') n.items.forEach((item, i) => { out.push({ node: item, set: (x) => (n.items[i] = x) }); walk(item); });
    if (n.t === 'd') n.entries.forEach((e) => { out.push({ node: e[1], set: (x) => (e[1] = x) }); walk(e[1]); });
  };
  walk(holder.root);
  return out;
}

function randomNode(rng: Rng, tokens: readonly Buffer[], depth = 0): BNode {
  switch (rng.below(depth > 2 ? 2 : 5)) {
    case 0:
      return { t: 'i', text: rng.pick(INTERESTING_DECIMAL) };
    case 1:
      return { t: 's', bytes: rng.chance(0.5) && tokens.length ? rng.pick(tokens) : rng.bytes(rng.pick([0, 1, 4, 6, 16, 18, 20, 26, 40])) };
    case 2:
      return { t: 'l', items: Array.from({ length: rng.below(3) }, () => randomNode(rng, tokens, depth + 1)) };
    default:
      return { t: 'd', entries: Array.from({ length: rng.below(3) }, () => [keyOf(rng, tokens), randomNode(rng, tokens, depth + 1)] as [Buffer, BNode]) };
  }
}

/** A dictionary key: mostly a known key (the bare string of a token like `4:info`). */
function keyOf(rng: Rng, tokens: readonly Buffer[]): Buffer {
  const keys = tokens.map(bareKey).filter((k): k is Buffer => k !== undefined);
  return keys.length && rng.chance(0.8) ? rng.pick(keys) : rng.bytes(1 + rng.below(8));
}

function bareKey(token: Buffer): Buffer | undefined {
  const m = /^(\d+):/.exec(token.toString('latin1', 0, 8));
  if (!m) return undefined;
  const len = Number(m[1]);
  const start = m[0].length;
  return start + len <= token.length ? token.subarray(start, start + len) : undefined;
}

/** One structure-aware edit of a bencoded input; the bytes after the value (a ut_metadata block) stay. */
function bencodeEdit(rng: Rng, b: Buffer, tokens: readonly Buffer[]): Buffer | undefined {
  const parsed = parseTree(b);
  if (!parsed) return undefined;
  const holder = { root: parsed.node };
  const all = slots(holder);
  const target = rng.pick(all);
  const replace = (n: BNode) => target.set(n);
  const dicts = all.filter((s) => s.node.t === 'd').map((s) => s.node as Extract<BNode, { t: 'd' }>);
  const lists = all.filter((s) => s.node.t === 'l').map((s) => s.node as Extract<BNode, { t: 'l' }>);
  switch (rng.below(11)) {
    case 0: // another type in the same place
      replace(randomNode(rng, tokens));
      break;
    case 1: // a dictionary entry gone
      if (dicts.length) {
        const d = rng.pick(dicts);
        if (d.entries.length) d.entries.splice(rng.below(d.entries.length), 1);
      }
      break;
    case 2: // a key twice
      if (dicts.length) {
        const d = rng.pick(dicts);
        if (d.entries.length) {
          const e = rng.pick(d.entries);
          d.entries.splice(rng.below(d.entries.length + 1), 0, [e[0], rng.chance(0.5) ? e[1] : randomNode(rng, tokens)]);
        }
      }
      break;
    case 3: // keys out of order
      if (dicts.length) {
        const d = rng.pick(dicts);
        if (d.entries.length > 1) {
          const i = rng.below(d.entries.length), j = rng.below(d.entries.length);
          [d.entries[i], d.entries[j]] = [d.entries[j]!, d.entries[i]!];
        }
      }
      break;
    case 4: { // nested deeper
      let n: BNode = target.node;
      const levels = rng.pick([1, 2, 8, 63, 64, 65, 200]);
      for (let k = 0; k < levels; k++) n = rng.chance(0.5) ? { t: 'l', items: [n] } : { t: 'd', entries: [[keyOf(rng, tokens), n]] };
      replace(n);
      break;
    }
    case 5: // a known key with some value
      if (dicts.length) rng.pick(dicts).entries.splice(0, 0, [keyOf(rng, tokens), randomNode(rng, tokens)]);
      else if (lists.length) rng.pick(lists).items.push(randomNode(rng, tokens));
      break;
    case 6: { // an integer at a limit
      const ints = all.filter((s) => s.node.t === 'i');
      if (ints.length) rng.pick(ints).set({ t: 'i', text: rng.pick(INTERESTING_DECIMAL) });
      break;
    }
    case 7: { // a string's bytes changed, its length kept right
      const strs = all.filter((s) => s.node.t === 's');
      if (strs.length) {
        const s = rng.pick(strs);
        const old = (s.node as Extract<BNode, { t: 's' }>).bytes;
        const len = rng.chance(0.5) ? old.length : rng.pick([0, 1, old.length - 1, old.length + 1, old.length * 2, 6, 18, 20, 26]);
        const bytes = Buffer.alloc(Math.max(0, Math.min(len, 4096)));
        old.copy(bytes, 0, 0, Math.min(old.length, bytes.length));
        if (bytes.length > old.length) rng.bytes(bytes.length - old.length).copy(bytes, old.length);
        s.set({ t: 's', bytes });
      }
      break;
    }
    case 8: { // a subtree copied elsewhere (a copy: an ancestor put inside itself would never end)
      const from = parseTree(writeTree(rng.pick(all).node))!.node;
      if (dicts.length && rng.chance(0.5)) rng.pick(dicts).entries.push([keyOf(rng, tokens), from]);
      else if (lists.length) rng.pick(lists).items.splice(0, 0, from);
      else replace(from);
      break;
    }
    case 9: { // a list grown or emptied
      if (lists.length) {
        const l = rng.pick(lists);
        if (rng.chance(0.5) && l.items.length) l.items.push(...Array<BNode>(1 + rng.below(64)).fill(rng.pick(l.items)));
        else l.items.length = 0;
      }
      break;
    }
    default: { // a string of a known token
      const strs = all.filter((s) => s.node.t === 's');
      const keys = tokens.map(bareKey).filter((k): k is Buffer => k !== undefined);
      if (strs.length && keys.length) rng.pick(strs).set({ t: 's', bytes: rng.pick(keys) });
      break;
    }
  }
  return Buffer.concat([writeTree(holder.root), b.subarray(parsed.end)]);
}

/**
 * One mutant of `input`: one to four stacked edits, `others` for splices. Never longer than
 * `hints.maxLen`.
 */
export function mutate(rng: Rng, input: Buffer, others: readonly Buffer[], hints: MutationHints): Buffer {
  let b = input;
  const rounds = 1 + (rng.chance(0.5) ? 0 : rng.below(4));
  for (let r = 0; r < rounds; r++) {
    const choice = rng.below(hints.bencode ? 14 : 11);
    switch (choice) {
      case 0: b = flipBit(rng, b); break;
      case 1: b = setByte(rng, b); break;
      case 2: b = insertBytes(rng, b); break;
      case 3: b = deleteRange(rng, b); break;
      case 4: b = duplicateRange(rng, b); break;
      case 5: b = truncate(rng, b); break;
      case 6: b = others.length ? splice(rng, b, rng.pick(others)) : flipBit(rng, b); break;
      case 7: b = lengthField(rng, b); break;
      case 8: b = decimalField(rng, b); break;
      case 9: b = insertToken(rng, b, hints.tokens); break;
      case 10: b = lengthField(rng, b); break;
      default: b = bencodeEdit(rng, b, hints.tokens) ?? decimalField(rng, b); break;
    }
  }
  return b.length > hints.maxLen ? b.subarray(0, hints.maxLen) : b;
}

/**
 * `input` with one stretch repeated until the whole is about `size` bytes; with `count`, the
 * longest decimal run of each copy is replaced by the copy's number, so repeated keys, trackers or
 * entries stay distinct. What a parser costs on these, against their size, shows a super-linear
 * path.
 */
export function amplify(input: Buffer, from: number, to: number, size: number, count: boolean): Buffer {
  const head = input.subarray(0, from), piece = input.subarray(from, to), tail = input.subarray(to);
  if (piece.length === 0) return input;
  const copies = Math.max(1, Math.floor((size - head.length - tail.length) / piece.length));
  const text = piece.toString('latin1');
  // The longest run (the last of equals): short ones are often a length prefix or an escape (%3A), which numbering breaks.
  const digits = count ? [...text.matchAll(/\d+/g)].reduce<RegExpMatchArray | undefined>((best, m) => (!best || m[0].length >= best[0].length ? m : best), undefined) : undefined;
  const parts: Buffer[] = [head];
  for (let k = 0; k < copies; k++) {
    if (!digits) parts.push(piece);
    else {
      // Same width as the original run where possible, so bencode lengths stay right.
      const n = String(k).padStart(digits[0].length, '0');
      parts.push(Buffer.from(text.slice(0, digits.index) + n + text.slice(digits.index! + digits[0].length), 'latin1'));
    }
  }
  parts.push(tail);
  return Buffer.concat(parts);
}
