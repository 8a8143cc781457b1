/**
 * The shape of the code, checked: src/ is built in layers (util at the bottom, the engine, its
 * status, the session, the Transmission RPC over it and the daemon on top; the data path socket -> transport -> wire -> swarm -> storage
 * in between), every import runs to a lower layer or within its own folder, no import loop exists
 * anywhere in src/ or cli/, and the terminal UI does not reach into the line reporters.
 * A new folder under src/ has to be given its place here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/sixswarm.js';

/** Each folder of src/ (and src/version.ts) with its layer; imports go to strictly lower layers. */
const LAYERS: Record<string, number> = {
  util: 0,
  'version.ts': 0,
  bencode: 1,
  merkle: 1,
  net: 1,
  config: 1,
  transport: 2,
  http: 2,
  'http-client': 3,
  mse: 3,
  utp: 3,
  metainfo: 3,
  tracker: 3,
  dht: 3,
  lsd: 3,
  tunnel: 3,
  portmap: 3,
  wire: 4,
  storage: 4,
  webseed: 4,
  support: 4,
  'tracker-check': 4,
  swarm: 5,
  ext: 6,
  discovery: 7,
  engine: 8,
  status: 9,
  session: 10,
  'transmission-rpc': 11,
  daemon: 12,
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports of a file (static, type-only and dynamic), resolved to files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const base = normalize(join(dirname(file), m[1]!.replace(/\.js$/, '')));
    const hit = [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')].find((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
    if (hit) out.push(hit);
  }
  return out;
}

const files = [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'cli'))];
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string) => relative(ROOT, f);
/** src/<folder> (or the file right under src/) of a path. */
const folderOf = (f: string) => relative(join(ROOT, 'src'), f).split('/')[0]!;

describe('layers', () => {
  it('gives every folder of src/ a layer', () => {
    const folders = readdirSync(join(ROOT, 'src'));
    expect(folders.filter((f) => LAYERS[f] === undefined)).toEqual([]);
  });

  it('has no import in src/ that runs to a higher layer, or sideways into another folder of its layer', () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      if (!rel(file).startsWith('src/')) continue;
      const from = folderOf(file);
      for (const dep of deps) {
        const to = folderOf(dep);
        if (to !== from && !(LAYERS[to]! < LAYERS[from]!)) wrong.push(`${rel(file)} -> ${rel(dep)} (${from} ${LAYERS[from]} -> ${to} ${LAYERS[to]})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no import from src/ into cli/', () => {
    const wrong = [...graph].flatMap(([file, deps]) => (rel(file).startsWith('src/') ? deps.filter((d) => rel(d).startsWith('cli/')).map((d) => `${rel(file)} -> ${rel(d)}`) : []));
    expect(wrong).toEqual([]);
  });

  it('has no import loop in src/ or cli/', () => {
    // Tarjan's strongly connected components: any with more than one file is a loop.
    let index = 0;
    const idx = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>();
    const loops: string[][] = [];
    const visit = (v: string): void => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      on.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!idx.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          on.delete(w);
          scc.push(rel(w));
        } while (w !== v);
        if (scc.length > 1) loops.push(scc);
      }
    };
    for (const f of files) if (!idx.has(f)) visit(f);
    expect(loops).toEqual([]);
  });

  it('keeps the terminal UI out of the line reporters', () => {
    const wrong = [...graph].flatMap(([file, deps]) => (rel(file).startsWith('cli/ui/') ? deps.filter((d) => rel(d) === 'cli/reporter.ts').map(() => rel(file)) : []));
    expect(wrong).toEqual([]);
  });
});
