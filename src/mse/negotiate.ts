/**
 * Running MSE over a transport, both ways; what the handshaker calls.
 *
 *   initiateMse(tcp, { infoHash, initialPayload: ourBtHandshake, provide: ['rc4', 'plaintext'] })
 *     -> { transport, method, infoHash }    (our BitTorrent handshake already went out as IA)
 *   acceptIncoming(tcp, { plaintext: true, mse: { findInfoHash, allowed: ['rc4', 'plaintext'] } })
 *     -> { kind: 'plaintext', transport }   (the peer's handshake bytes are delivered first)
 *      | { kind: 'mse', transport, method, infoHash }   (its IA, i.e. its BT handshake, first)
 *
 * Either rejects with an MseError after closing the transport it was given: bad bytes, a
 * window or length past its bound, the connection closing, or no completion within the timeout.
 * Only that connection is affected.
 */
import type { Transport } from '../transport/transport.js';
import { classifyFirstBytes } from './detect.js';
import {
  InitiatorHandshake,
  MseError,
  ResponderHandshake,
  type CryptoMethod,
  type HandshakeOutcome,
  type HandshakeStep,
  type InitiatorOptions,
  type ResponderOptions,
} from './handshake.js';
import { MseTransport } from './mse-transport.js';

/** How long a handshake may take, first byte to last (Transmission's is 30 s too). */
export const HANDSHAKE_TIMEOUT_MS = 30_000;

export interface MseConnection {
  transport: Transport;
  method: CryptoMethod;
  /** The info hash (SKEY) the connection was made for. */
  infoHash: Buffer;
}

export type IncomingConnection = { kind: 'plaintext'; transport: Transport } | ({ kind: 'mse' } & MseConnection);

export interface AcceptOptions {
  /** Accept a plaintext BitTorrent handshake (`--encryption require` does not). */
  plaintext: boolean;
  /** Answer MSE attempts like this; without it they are refused (`--encryption off`). */
  mse?: ResponderOptions;
  timeoutMs?: number;
  /**
   * Aborted by whoever closed the connection from outside (an eviction): the handshake ends at
   * once, its timer and all it holds released, instead of waiting for the timeout.
   */
  signal?: AbortSignal;
}

/** What one chunk did: bytes to send, and once it is decided, how the connection continues. */
interface Progress<R> {
  send: Buffer[];
  open?: { cipher: HandshakeOutcome['ciphers'] | undefined; rest: Buffer; result: R };
}

type MseInfo = { kind: 'mse'; method: CryptoMethod; infoHash: Buffer };
type IncomingInfo = { kind: 'plaintext' } | MseInfo;

/** A handshake machine's step as Progress: the RC4 streams are used only if RC4 was selected. */
function progressOf(step: HandshakeStep): Progress<MseInfo> {
  const d = step.done;
  if (!d) return { send: step.send };
  return { send: step.send, open: { cipher: d.method === 'rc4' ? d.ciphers : undefined, rest: d.rest, result: { kind: 'mse', method: d.method, infoHash: d.infoHash } } };
}

/**
 * Own `inner`'s events until `feed` says the connection is open, then hand them to the
 * MseTransport built from that. `first`: bytes to send at once.
 */
function negotiate<R>(
  inner: Transport,
  timeoutMs: number,
  first: Buffer | undefined,
  feed: (chunk: Buffer) => Progress<R>,
  peerSpokeMse: () => boolean,
  signal?: AbortSignal,
): Promise<R & { transport: Transport }> {
  return new Promise((resolve, reject) => {
    let open: MseTransport | undefined;
    let failed = false;
    const onAbort = () => fail(new MseError('connection closed during the MSE handshake (by us)', peerSpokeMse()));
    const fail = (e: unknown): void => {
      if (failed || open) return;
      failed = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      inner.close();
      reject(e instanceof MseError ? e : new MseError(`MSE handshake failed: ${(e as Error).message}`, peerSpokeMse()));
    };
    const timer = setTimeout(() => fail(new MseError(`MSE handshake not done within ${timeoutMs / 1000} s`, peerSpokeMse())), timeoutMs);
    timer.unref();
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    inner.start({
      data(chunk, transient) {
        if (open) return open.inbound.data(chunk, transient);
        if (failed) return;
        let p: Progress<R>;
        try {
          p = feed(chunk);
        } catch (e) {
          return fail(e);
        }
        if (p.send.length > 1) inner.cork();
        for (const b of p.send) inner.write(b);
        if (!p.open) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        open = new MseTransport(inner, p.open.cipher, p.open.rest);
        resolve({ ...p.open.result, transport: open });
      },
      drain() {
        open?.inbound.drain();
      },
      close(reason) {
        if (open) return open.inbound.close(reason);
        fail(new MseError(`connection closed during the MSE handshake (${reason})`, peerSpokeMse()));
      },
    });
    if (first && !failed) inner.write(first);
  });
}

/**
 * Dial side: run MSE as the initiator over `inner` (a fresh connection). `initialPayload` should
 * be our 68-byte BitTorrent handshake, which then must not be written again.
 */
export function initiateMse(inner: Transport, opts: InitiatorOptions & { timeoutMs?: number }): Promise<MseConnection> {
  let machine: InitiatorHandshake;
  let first: Buffer;
  try {
    machine = new InitiatorHandshake(opts);
    first = machine.start();
  } catch (e) {
    inner.close();
    return Promise.reject(e);
  }
  return negotiate(inner, opts.timeoutMs ?? HANDSHAKE_TIMEOUT_MS, first, (chunk) => progressOf(machine.feed(chunk)), () => machine.peerSpokeMse).then(
    ({ transport, method, infoHash }) => ({ transport, method, infoHash }),
  );
}

/** Accept side: tell plaintext from MSE by the first bytes and answer in kind. */
export function acceptIncoming(inner: Transport, opts: AcceptOptions): Promise<IncomingConnection> {
  let sniffed = Buffer.alloc(0);
  let machine: ResponderHandshake | undefined;
  const feed = (chunk: Buffer): Progress<IncomingInfo> => {
    if (machine) return progressOf(machine.feed(chunk));
    sniffed = Buffer.concat([sniffed, chunk]);
    const kind = classifyFirstBytes(sniffed);
    if (kind === undefined) return { send: [] };
    if (kind === 'plaintext') {
      if (!opts.plaintext) throw new MseError('it does not speak encryption (a plaintext handshake); --encryption require refuses it', false, true);
      return { send: [], open: { cipher: undefined, rest: sniffed, result: { kind: 'plaintext' } } };
    }
    if (!opts.mse) throw new MseError('it asked for an encrypted (MSE) handshake; --encryption off refuses it', false, true);
    machine = new ResponderHandshake(opts.mse);
    return progressOf(machine.feed(sniffed));
  };
  return negotiate(inner, opts.timeoutMs ?? HANDSHAKE_TIMEOUT_MS, undefined, feed, () => machine?.peerSpokeMse ?? false, opts.signal);
}
