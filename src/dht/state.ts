/**
 * The routing table on disk, so a restart does not need the bootstrap routers: our node id and
 * the table's nodes, bencoded ({id, nodes} with BEP 5 compact node info). Written atomically.
 */
import { readFile, stat } from 'node:fs/promises';
import { FieldError, asBytes, asDict, decode, encode } from '../bencode/index.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { decodeNodes, encodeNodes, type NodeContact } from './krpc.js';
import { ID_LENGTH } from './node-id.js';

export interface DhtState {
  id: Buffer;
  nodes: NodeContact[];
}

/** 160 buckets of 8 nodes of 26 bytes fit in 34 KiB; a larger file is not ours. */
const MAX_STATE_BYTES = 256 * 1024;

/** The saved state, or undefined when there is none. Throws when the file is unreadable or corrupt. */
export async function loadState(file: string): Promise<DhtState | undefined> {
  const size = await stat(file).then(
    (s) => s.size,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    },
  );
  if (size === undefined) return undefined;
  if (size > MAX_STATE_BYTES) throw new Error(`DHT state ${file} is ${size} bytes, more than a routing table takes: delete it`);
  try {
    const d = asDict(decode(await readFile(file), { maxDepth: 2, maxItems: 16 }), 'DHT state');
    const id = asBytes(d.get('id'), 'id');
    if (id.length !== ID_LENGTH) throw new FieldError(`"id" should be ${ID_LENGTH} bytes`);
    return { id: Buffer.from(id), nodes: decodeNodes(asBytes(d.get('nodes'), 'nodes')) };
  } catch (e) {
    throw new Error(`DHT state ${file} is corrupt (${(e as Error).message}): delete it`);
  }
}

export async function saveState(file: string, state: DhtState): Promise<void> {
  await writeFileAtomic(file, encode({ id: state.id, nodes: encodeNodes(state.nodes) }));
}
