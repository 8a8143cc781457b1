/**
 * POST /transmission/rpc: the session-id handshake (a request without the current
 * X-Transmission-Session-Id gets 409 carrying it: a page on another site cannot read that header,
 * so it cannot forge requests), the bounded body, the JSON request ({method, arguments, tag}),
 * the method, and the reply ({result, arguments, tag}). A malformed request is answered 400; a
 * refused one (wrong types, an unknown method, a folder outside the allowed ones) is answered
 * like Transmission does, with `result` saying why.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyBudget, readBody } from '../http/body.js';
import { HttpError } from '../http/http-error.js';
import { sendJson, sendText } from '../http/http-front.js';
import { InputError, errorMessage } from '../util/errors.js';
import { printable } from '../util/sanitize.js';
import { Args } from './args.js';
import { MAX_UPLOAD_BYTES, type Done, type RpcMethods } from './methods.js';
import { RpcError } from './rpc-error.js';

export const SESSION_HEADER = 'X-Transmission-Session-Id';
/** The largest request: a .torrent of MAX_UPLOAD_BYTES in base64, and room for the rest. */
export const MAX_REQUEST_BYTES = Math.ceil((MAX_UPLOAD_BYTES * 4) / 3) + 64 * 1024;

/** The token of the handshake: random, the same for the daemon's lifetime (clients like Flood fetch it once). */
export class SessionToken {
  readonly value = randomBytes(24).toString('base64url');

  matches(header: string | string[] | undefined): boolean {
    if (typeof header !== 'string') return false;
    const a = Buffer.from(header);
    const b = Buffer.from(this.value);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

export interface RpcOutcome {
  method: string;
  /** Why it was refused, if it was. */
  refused?: string;
  /** A bug met while serving it (answered as an internal error). */
  bug?: unknown;
  /** What it changed. */
  done?: Done;
}

export class RpcEndpoint {
  constructor(
    private readonly methods: RpcMethods,
    readonly token: SessionToken,
    private readonly budget: BodyBudget,
  ) {}

  /** Serve one request that passed the guard; resolves to what it asked for and whether it was refused. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<RpcOutcome | undefined> {
    if (!this.token.matches(req.headers[SESSION_HEADER.toLowerCase()])) {
      req.resume();
      sendText(res, 409, `409: Conflict\nYour request had an invalid session-id header.\nTo fix this, resend it with the header\n${SESSION_HEADER}: ${this.token.value}\n`, {
        [SESSION_HEADER]: this.token.value,
      });
      return undefined;
    }
    if (req.method !== 'POST') {
      req.resume();
      throw new HttpError(405, 'the RPC takes POST requests', { Allow: 'POST' });
    }
    const body = await readBody(req, MAX_REQUEST_BYTES, this.budget);
    let request: { method: string; args: Args; tag?: number };
    try {
      request = parse(body);
    } catch (e) {
      sendJson(res, 400, { result: errorMessage(e), arguments: {} });
      return { method: '(malformed)', refused: errorMessage(e) };
    }
    const { method, args, tag } = request;
    const reply = (result: string, args: Record<string, unknown> = {}) => sendJson(res, 200, { result, arguments: args, ...(tag !== undefined ? { tag } : {}) });
    const run = this.methods.method(method);
    if (!run) {
      reply('method name not recognized');
      return { method: printable(method, 60), refused: 'method name not recognized' };
    }
    try {
      const result = await run(args);
      reply('success', result.reply);
      return { method, ...(result.done ? { done: result.done } : {}) };
    } catch (e) {
      // The client's mistake or something sixswarm does not do: said in `result`. A bug: said too, and handed on for the log.
      if (!(e instanceof RpcError || e instanceof InputError)) {
        reply(`internal error: ${errorMessage(e)}`);
        return { method, refused: 'internal error', bug: e };
      }
      reply(e.message);
      return { method, refused: e.message };
    }
  }
}

function parse(body: Buffer): { method: string; args: Args; tag?: number } {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new RpcError(`the request is not JSON: ${errorMessage(e)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RpcError('the request must be a JSON object with "method" and "arguments"');
  const o = value as Record<string, unknown>;
  if (typeof o.method !== 'string' || o.method.length > 100) throw new RpcError('"method" must be the name of a method');
  const a = o.arguments ?? {};
  if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new RpcError('"arguments" must be an object');
  if (o.tag !== undefined && (typeof o.tag !== 'number' || !Number.isFinite(o.tag))) throw new RpcError('"tag" must be a number');
  return { method: o.method, args: new Args(a as Record<string, unknown>), ...(o.tag !== undefined ? { tag: o.tag as number } : {}) };
}
