/**
 * Which files of a torrent to download (`--select 1,3-5`, `--skip GLOB`) and what follows for
 * pieces: a piece is wanted when it holds a byte of a selected file. The bytes of skipped files
 * that share a wanted piece have to be downloaded too (the piece is hashed whole), but they must
 * not make a skipped file appear on disk: they are "parted", kept in a part file of their own
 * piece (src/storage/part-files.ts).
 *
 * Files are numbered from 1 in torrent order, padding files left out, as `sixswarm info` lists them.
 */
import type { Metainfo } from '../metainfo/types.js';
import { Bitfield } from '../util/bitfield.js';
import { InputError } from '../util/errors.js';
import type { PieceLayout } from './layout.js';

/** What the user asked for: `select` lists of numbers and ranges ("1,3-5"), `skip` globs. */
export interface SelectionSpec {
  select?: string[];
  skip?: string[];
}

/** The torrent's real files in the order they are numbered: the number is the position + 1. */
export function numberedFiles(meta: Metainfo): number[] {
  const out: number[] = [];
  meta.files.forEach((f, i) => {
    if (!f.pad) out.push(i);
  });
  return out;
}

/** A file's path inside the torrent (without the torrent's own folder), as globs match it. */
export function innerPath(meta: Metainfo, fileIndex: number): string {
  const path = meta.files[fileIndex]!.path;
  return (meta.multiFile ? path.slice(1) : path).join('/');
}

/**
 * A glob as a regular expression: `*` any run within one path component, `**` any run across
 * them, `?` one character, `[...]` a class; a glob without `/` matches a file's name anywhere.
 */
export function globMatcher(glob: string): (path: string) => boolean {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) throw new InputError(`--skip "${glob}": a [ without its ]`);
      let body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  const whole = new RegExp(`^${re}$`);
  return glob.includes('/') ? (p) => whole.test(p) : (p) => whole.test(p.slice(p.lastIndexOf('/') + 1));
}

/** "1,3-5" as file numbers from 1 to `count`. */
function parseNumbers(spec: string, count: number): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^\s*(\d{1,9})\s*(?:-\s*(\d{1,9})\s*)?$/.exec(part);
    if (!m) throw new InputError(`--select "${spec}": "${part}" is not a file number or a range like 3-5 (the numbers are those \`sixswarm info\` lists)`);
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > count || a > b) throw new InputError(`--select "${spec}": ${part.trim()} is outside the torrent's files, numbered 1 to ${count}`);
    for (let n = a; n <= b; n++) out.push(n);
  }
  return out;
}

export class FileSelection {
  /** Per file of the torrent (pad files: false): whether it is selected. */
  readonly files: readonly boolean[];
  /** Pieces that hold a byte of a selected file. */
  readonly pieces: Bitfield;
  /** Every real file is selected: nothing is parted. */
  readonly all: boolean;

  private constructor(files: boolean[], layout: PieceLayout) {
    this.files = files;
    this.pieces = new Bitfield(layout.pieceCount);
    files.forEach((on, f) => {
      const range = on ? layout.piecesOfFile(f) : undefined;
      if (range) for (let p = range[0]; p <= range[1]; p++) this.pieces.set(p);
    });
    this.all = layout.files.every((f, i) => f.pad || files[i]);
    // A torrent of nothing but empty files: everything (nothing) is wanted.
    if (this.all) this.pieces.setAll();
  }

  static everything(meta: Metainfo, layout: PieceLayout): FileSelection {
    return new FileSelection(meta.files.map((f) => !f.pad), layout);
  }

  /** `select` first (default: every file), then `skip` takes files out. A selection of no file is an error. */
  static of(meta: Metainfo, layout: PieceLayout, spec: SelectionSpec = {}): FileSelection {
    const numbered = numberedFiles(meta);
    let chosen: boolean[];
    if (spec.select && spec.select.length > 0) {
      chosen = meta.files.map(() => false);
      for (const s of spec.select) for (const n of parseNumbers(s, numbered.length)) chosen[numbered[n - 1]!] = true;
    } else chosen = meta.files.map((f) => !f.pad);
    for (const glob of spec.skip ?? []) {
      const matches = globMatcher(glob);
      for (const i of numbered) if (matches(innerPath(meta, i))) chosen[i] = false;
    }
    if (!numbered.some((i) => chosen[i])) throw new InputError('the selection leaves no file to download: check --select and --skip against `sixswarm info`');
    return new FileSelection(chosen, layout);
  }

  /** Whether a byte of file `fileIndex` inside piece `piece` goes to the piece's part file. */
  parted(piece: number, fileIndex: number): boolean {
    return !this.files[fileIndex] && this.pieces.has(piece);
  }

  /** How many real files are selected. */
  get count(): number {
    return this.files.filter(Boolean).length;
  }
}
