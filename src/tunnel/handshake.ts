/**
 * The handshake: the client sends `{"Id": "<mac>"}` (we add an optional `"Token"`, `"Offload"`
 * when it can carry offload headers, or `"Streams"` when it asks for the stream mode, which
 * needs no TUN device: stream/frames.ts), the server answers `{"Prefix": "2001:db8:aa:bb::/64"}`
 * (with `"Offload"` or `"Streams"` echoed when it agrees; or, from our server,
 * `{"Error": "..."}` before closing). The original ignores fields it does not know, so with it
 * the extensions are simply off. Neither side sends a delimiter, and packets may follow in the same read, so exactly
 * ONE balanced JSON object is cut off the stream and the rest is packet data.
 */
import type { Socket } from 'node:net';
import { bytesToIp, classify } from '../net/address.js';
import { printable } from '../util/sanitize.js';
import { OFFLOAD_FEATURE } from './offload.js';
import { parsePrefix, type Prefix } from './prefix.js';

export const HANDSHAKE_MAX_BYTES = 4096;
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Ids are printable ASCII without spaces, up to 128 characters: MACs, UUIDs and host names fit,
 * and an Id is then safe as it is in every log line, file and terminal (no controls, no bidi
 * overrides, no lone surrogates, nothing a UTF-8 decoder had to replace).
 */
export const ID_MAX_CHARS = 128;
const ID_CHARS = /^[\x21-\x7e]+$/;
const TOKEN_MAX_CHARS = 1024;

/** Why `id` cannot be a tunnel Id, or undefined when it can. The Id itself is never quoted back. */
export function idProblem(id: string): string | undefined {
  if (id.length === 0 || id.length > ID_MAX_CHARS || !ID_CHARS.test(id)) {
    return `an Id is 1-${ID_MAX_CHARS} printable ASCII characters without spaces (a MAC address, a UUID, a host name)`;
  }
  return undefined;
}
/** A server's error message is cut to this many characters before it is shown. */
const ERROR_MAX_CHARS = 200;

export class HandshakeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandshakeError';
  }
}

export interface ScannedObject {
  value: Record<string, unknown>;
  /** Bytes after the object's closing brace: the start of the packet stream. */
  rest: Buffer;
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Finds the end of one JSON object in a byte stream, chunk by chunk, without rescanning:
 * it tracks string/escape state and nesting depth, then leaves the real parsing to JSON.parse.
 */
export class JsonObjectScanner {
  private parts: Buffer[] = [];
  private seen = 0;
  private started = false;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxBytes = HANDSHAKE_MAX_BYTES) {}

  /** The object once complete, undefined while more bytes are needed; throws HandshakeError. */
  push(chunk: Buffer): ScannedObject | undefined {
    for (let i = 0; i < chunk.length; i++) {
      if (this.seen + i >= this.maxBytes) {
        throw new HandshakeError(`handshake larger than ${this.maxBytes} bytes`);
      }
      const c = chunk[i]!;
      if (!this.started) {
        if (WHITESPACE.has(c)) continue;
        if (c !== 0x7b) throw new HandshakeError('handshake is not a JSON object');
        this.started = true;
        this.depth = 1;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (--this.depth === 0) return this.finish(chunk, i + 1);
      }
    }
    this.parts.push(chunk);
    this.seen += chunk.length;
    return undefined;
  }

  private finish(chunk: Buffer, end: number): ScannedObject {
    const text = Buffer.concat([...this.parts, chunk.subarray(0, end)]).toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new HandshakeError(`handshake is not valid JSON (${(e as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new HandshakeError('handshake is not a JSON object');
    }
    return { value: value as Record<string, unknown>, rest: chunk.subarray(end) };
  }
}

/**
 * A field by name, matched like Go's encoding/json (the original server): exact name first,
 * then case-insensitively, so any client that worked with the original works with ours.
 */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

/** The value both ends put in the handshake's "Streams" field (the version of stream/frames.ts). */
export const STREAMS_FEATURE = 'relay-1';

export interface Hello {
  id: string;
  token?: string;
  /** The client can carry offload headers (see offload.ts). */
  offload?: boolean;
  /** The client asks for the stream mode instead of packets. */
  streams?: boolean;
}

export function encodeHello(hello: Hello): Buffer {
  const msg: Record<string, string> = { Id: hello.id };
  if (hello.token !== undefined) msg.Token = hello.token;
  if (hello.offload) msg.Offload = OFFLOAD_FEATURE;
  if (hello.streams) msg.Streams = STREAMS_FEATURE;
  return Buffer.from(JSON.stringify(msg));
}

export function parseHello(obj: Record<string, unknown>): Hello {
  const id = field(obj, 'Id');
  if (typeof id !== 'string' || id.length === 0) throw new HandshakeError('hello has no "Id" string');
  const problem = idProblem(id);
  if (problem) throw new HandshakeError(`"Id" refused: ${problem}`);
  // An offload kind or stream version we do not know is a newer client's: it gets the original framing.
  const offload = field(obj, 'Offload') === OFFLOAD_FEATURE ? { offload: true } : {};
  const streams = field(obj, 'Streams') === STREAMS_FEATURE ? { streams: true } : {};
  const token = field(obj, 'Token');
  if (token === undefined || token === null) return { id, ...offload, ...streams };
  if (typeof token !== 'string' || token.length > TOKEN_MAX_CHARS) throw new HandshakeError('"Token" must be a string');
  return { id, token, ...offload, ...streams };
}

export type Reply = { kind: 'prefix'; prefix: Prefix; offload?: boolean; streams?: boolean } | { kind: 'error'; message: string };

export function encodeReply(reply: Reply): Buffer {
  if (reply.kind === 'error') return Buffer.from(JSON.stringify({ Error: reply.message }));
  return Buffer.from(
    JSON.stringify({ Prefix: reply.prefix.text, ...(reply.offload ? { Offload: OFFLOAD_FEATURE } : {}), ...(reply.streams ? { Streams: STREAMS_FEATURE } : {}) }),
  );
}

/**
 * The server's answer. A prefix must be a /64 (the only size the protocol hands out) of global
 * unicast space: a link-local, multicast, ULA or otherwise special prefix on our device would
 * let the server capture or inject traffic it has no business with.
 */
export function parseReply(obj: Record<string, unknown>): Reply {
  const prefix = field(obj, 'Prefix');
  if (typeof prefix === 'string') {
    let parsed: Prefix;
    try {
      parsed = parsePrefix(prefix, { maskHostBits: true });
    } catch (e) {
      throw new HandshakeError(`server sent a bad prefix: ${printable((e as Error).message, ERROR_MAX_CHARS)}`);
    }
    if (parsed.length !== 64) throw new HandshakeError(`server sent a /${parsed.length} prefix; the tunnel needs a /64`);
    const kind = classify(bytesToIp(parsed.bytes))!.kind;
    if (kind !== 'global') throw new HandshakeError(`server sent ${parsed.text} (${kind}), not a global unicast /64; refusing it`);
    return { kind: 'prefix', prefix: parsed, offload: field(obj, 'Offload') === OFFLOAD_FEATURE, streams: field(obj, 'Streams') === STREAMS_FEATURE };
  }
  const error = field(obj, 'Error');
  if (typeof error === 'string') {
    // Shown to the user: keep it one short printable line whatever the server sent.
    return { kind: 'error', message: printable(error, ERROR_MAX_CHARS) || 'no reason given' };
  }
  throw new HandshakeError('server reply has neither "Prefix" nor "Error"');
}

/**
 * Reads one JSON object off `socket` within the size and time bounds. On success the socket is
 * left paused with its data listener removed, and `rest` holds the bytes that followed the
 * object, so the packet reader can take over without losing or reordering a byte.
 */
export function readHandshake(
  socket: Socket,
  opts: { maxBytes?: number; timeoutMs?: number } = {},
): Promise<ScannedObject> {
  const scanner = new JsonObjectScanner(opts.maxBytes ?? HANDSHAKE_MAX_BYTES);
  const timeoutMs = opts.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, result?: ScannedObject) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve(result!);
    };
    const onData = (chunk: Buffer) => {
      let result: ScannedObject | undefined;
      try {
        result = scanner.push(chunk);
      } catch (e) {
        return done(e as Error);
      }
      if (result) {
        socket.pause();
        done(undefined, result);
      }
    };
    const onEnd = () => done(new HandshakeError('connection closed during the handshake'));
    const onError = (e: Error) => done(new HandshakeError(`connection failed during the handshake: ${e.message}`));
    const timer = setTimeout(() => done(new HandshakeError(`no handshake within ${timeoutMs / 1000} s`)), timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}
