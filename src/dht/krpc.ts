/**
 * KRPC (BEP 5): the bencoded query / response / error messages of the DHT, IPv4 only. Parsing
 * turns one datagram into a typed message or throws KrpcError, so nothing past this file ever
 * sees a field of the wrong type; every list and string it keeps is bounded.
 */
import { BDict, BencodeError, FieldError, asBytes, asDict, asInt, asString, decode, encode, optBytes, optInt, optList, type Encodable } from '../bencode/index.js';
import { decodeCompactPeers, encodeCompactPeer, type PeerAddress } from '../net/compact.js';
import { ID_LENGTH } from './node-id.js';

/** Nothing in BEP 5 needs more than one MTU; larger datagrams are dropped before decoding. */
export const MAX_DATAGRAM = 1500;
/** Values kept from one get_peers response; a reply of 1500 bytes holds fewer anyway. */
const MAX_VALUES = 200;
/** Transaction ids and tokens we echo back or store: longer ones are refused. */
const MAX_TID = 16;
const MAX_TOKEN = 64;
const NODE_SIZE = ID_LENGTH + 6;

/** BEP 5 error codes. */
export const ERR_GENERIC = 201;
export const ERR_PROTOCOL = 203;
export const ERR_METHOD = 204;

export interface NodeContact {
  id: Buffer;
  host: string;
  port: number;
}

export type Query =
  | { q: 'ping' }
  | { q: 'find_node'; target: Buffer }
  | { q: 'get_peers'; infoHash: Buffer }
  | { q: 'announce_peer'; infoHash: Buffer; port: number; impliedPort: boolean; token: Buffer };

export type QueryName = Query['q'];

export interface IncomingQuery {
  y: 'q';
  t: Buffer;
  id: Buffer;
  /** BEP 43: the sender will not answer queries, so it must not enter the routing table. */
  readOnly: boolean;
  /** undefined: a method we do not know (answered with error 204). */
  query: Query | undefined;
  method: string;
}

export interface IncomingResponse {
  y: 'r';
  t: Buffer;
  id: Buffer;
  nodes: NodeContact[];
  values: PeerAddress[];
  token: Buffer | undefined;
  /** BEP 42: our own address as the responder saw it (the top-level "ip"), when it said. */
  ip: { host: string; port: number } | undefined;
}

export interface IncomingError {
  y: 'e';
  t: Buffer;
  code: number;
  message: string;
}

export type KrpcMessage = IncomingQuery | IncomingResponse | IncomingError;

export class KrpcError extends Error {
  /** Set when the datagram was a query we can answer with an error (it had a usable `t`). */
  constructor(message: string, readonly replyTo?: Buffer) {
    super(message);
    this.name = 'KrpcError';
  }
}

function id20(v: Parameters<typeof asBytes>[0], name: string): Buffer {
  const b = asBytes(v, name);
  if (b.length !== ID_LENGTH) throw new FieldError(`"${name}" should be ${ID_LENGTH} bytes, not ${b.length}`);
  return b;
}

/** BEP 5 compact node info: 26 bytes per node (id, IPv4, port). */
export function decodeNodes(blob: Buffer): NodeContact[] {
  if (blob.length % NODE_SIZE !== 0) throw new FieldError(`"nodes" of ${blob.length} bytes is not a multiple of ${NODE_SIZE}`);
  const out: NodeContact[] = [];
  for (let off = 0; off < blob.length; off += NODE_SIZE) {
    const [addr] = decodeCompactPeers(blob.subarray(off + ID_LENGTH, off + NODE_SIZE), 4);
    out.push({ id: Buffer.from(blob.subarray(off, off + ID_LENGTH)), host: addr!.host, port: addr!.port });
  }
  return out;
}

export function encodeNodes(nodes: readonly NodeContact[]): Buffer {
  return Buffer.concat(nodes.flatMap((n) => [n.id, encodeCompactPeer(n)]));
}

function parseQuery(msg: BDict, t: Buffer): IncomingQuery {
  const method = asString(msg.get('q'), 'q');
  const a = asDict(msg.get('a'), 'a');
  const id = id20(a.get('id'), 'a.id');
  const readOnly = optInt(a.get('ro'), 'a.ro') === 1;
  let query: Query | undefined;
  switch (method) {
    case 'ping':
      query = { q: 'ping' };
      break;
    case 'find_node':
      query = { q: 'find_node', target: id20(a.get('target'), 'a.target') };
      break;
    case 'get_peers':
      query = { q: 'get_peers', infoHash: id20(a.get('info_hash'), 'a.info_hash') };
      break;
    case 'announce_peer': {
      const impliedPort = optInt(a.get('implied_port'), 'a.implied_port') === 1;
      const port = impliedPort ? 0 : asInt(a.get('port'), 'a.port');
      if (!impliedPort && (port < 1 || port > 65535)) throw new FieldError(`"a.port" ${port} is not a port`);
      const token = asBytes(a.get('token'), 'a.token');
      if (token.length > MAX_TOKEN) throw new FieldError(`"a.token" of ${token.length} bytes is too long`);
      query = { q: 'announce_peer', infoHash: id20(a.get('info_hash'), 'a.info_hash'), port, impliedPort, token };
      break;
    }
  }
  return { y: 'q', t, id, readOnly, query, method: method.slice(0, 32) };
}

/** BEP 42's top-level "ip": 6 bytes of IPv4 and port; anything else is ignored, not an error. */
function parseIp(v: unknown): { host: string; port: number } | undefined {
  if (!Buffer.isBuffer(v) || v.length !== 6) return undefined;
  const [a] = decodeCompactPeers(v, 4);
  return a && { host: a.host, port: a.port };
}

function parseResponse(msg: BDict, t: Buffer): IncomingResponse {
  const r = asDict(msg.get('r'), 'r');
  const id = id20(r.get('id'), 'r.id');
  const nodesBlob = optBytes(r.get('nodes'), 'r.nodes');
  const token = optBytes(r.get('token'), 'r.token');
  if (token && token.length > MAX_TOKEN) throw new FieldError(`"r.token" of ${token.length} bytes is too long`);
  const values: PeerAddress[] = [];
  for (const v of optList(r.get('values'), 'r.values') ?? []) {
    if (values.length === MAX_VALUES) break;
    const b = asBytes(v, 'r.values[]');
    // 18-byte IPv6 entries (BEP 32 nodes answering over IPv4) are skipped: this DHT is IPv4 only.
    if (b.length === 6) values.push(...decodeCompactPeers(b, 4));
  }
  return { y: 'r', t, id, nodes: nodesBlob ? decodeNodes(nodesBlob) : [], values, token: token && Buffer.from(token), ip: parseIp(msg.get('ip')) };
}

function parseError(msg: BDict, t: Buffer): IncomingError {
  const e = msg.get('e');
  // BEP 5 says [code, message]; some nodes send only one of them, so both are optional here.
  const list = Array.isArray(e) ? e : [];
  const code = typeof list[0] === 'number' ? list[0] : ERR_GENERIC;
  const text = Buffer.isBuffer(list[1]) ? list[1].toString('utf8', 0, Math.min(list[1].length, 200)) : '';
  return { y: 'e', t, code, message: text };
}

/** Parse one datagram. Throws KrpcError (with `replyTo` when a query deserves an error reply). */
export function parseMessage(buf: Buffer): KrpcMessage {
  if (buf.length > MAX_DATAGRAM) throw new KrpcError(`datagram of ${buf.length} bytes exceeds ${MAX_DATAGRAM}`);
  let msg: BDict;
  try {
    msg = asDict(decode(buf, { maxDepth: 4, maxItems: 512, maxBytes: MAX_DATAGRAM }), 'message');
  } catch (e) {
    throw new KrpcError(e instanceof BencodeError || e instanceof FieldError ? e.message : String(e));
  }
  let t: Buffer;
  let y: string;
  try {
    t = asBytes(msg.get('t'), 't');
    if (t.length > MAX_TID) throw new FieldError(`"t" of ${t.length} bytes is too long`);
    y = asString(msg.get('y'), 'y');
  } catch (e) {
    throw new KrpcError((e as Error).message);
  }
  t = Buffer.from(t); // a copy: the message may outlive the datagram's buffer
  try {
    if (y === 'q') return parseQuery(msg, t);
    if (y === 'r') return parseResponse(msg, t);
    if (y === 'e') return parseError(msg, t);
  } catch (e) {
    if (e instanceof FieldError) throw new KrpcError(e.message, y === 'q' ? t : undefined);
    throw e;
  }
  throw new KrpcError(`unknown message type "${y.slice(0, 8)}"`, t);
}

function queryArgs(id: Buffer, query: Query): Record<string, Encodable> {
  switch (query.q) {
    case 'ping':
      return { id };
    case 'find_node':
      return { id, target: query.target };
    case 'get_peers':
      return { id, info_hash: query.infoHash };
    case 'announce_peer':
      return { id, info_hash: query.infoHash, port: query.port, implied_port: query.impliedPort ? 1 : 0, token: query.token };
  }
}

export function encodeQuery(t: Buffer, id: Buffer, query: Query): Buffer {
  return encode({ t, y: 'q', q: query.q, a: queryArgs(id, query) });
}

export interface ResponseBody {
  id: Buffer;
  nodes?: readonly NodeContact[];
  values?: readonly PeerAddress[];
  token?: Buffer;
}

/** A response; `to` (the requester's address) goes in the top-level "ip" (BEP 42), so it learns how it is seen. */
export function encodeResponse(t: Buffer, body: ResponseBody, to?: { host: string; port: number }): Buffer {
  const r: Record<string, Encodable | undefined> = {
    id: body.id,
    nodes: body.nodes && encodeNodes(body.nodes),
    token: body.token,
    values: body.values?.map((p) => encodeCompactPeer(p)),
  };
  return encode({ ip: to && encodeCompactPeer(to), t, y: 'r', r });
}

export function encodeError(t: Buffer, code: number, message: string): Buffer {
  return encode({ t, y: 'e', e: [code, message] });
}
