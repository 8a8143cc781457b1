/**
 * Happy-Eyeballs style connecting (RFC 8305) over any Network: given every address of one peer
 * (or one web server), try IPv6 first, start the next attempt after a short delay if the previous
 * has not connected, keep the first that succeeds and abort or close the rest.
 */
import { lookup } from 'node:dns/promises';
import type { Family } from '../net/address.js';
import { familyOf } from '../net/address.js';
import type { DialOneOptions, DialTarget, TransportChoice } from './network.js';

export interface DialOptions extends TransportChoice {
  timeoutMs?: number;
  /** Delay before the next address is tried while the previous is still pending. */
  staggerMs?: number;
  /** Families we may use (a family turned off is never dialed). */
  families?: { 4: boolean; 6: boolean };
  /** Give up when this aborts. */
  signal?: AbortSignal;
}

/** Interleave families, IPv6 first, as RFC 8305 section 4 recommends. */
export function orderAddresses<T extends DialTarget>(targets: T[]): T[] {
  const v6 = targets.filter((t) => familyOf(t.host) === 6);
  const v4 = targets.filter((t) => familyOf(t.host) !== 6);
  const out: T[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (v6[i]) out.push(v6[i]!);
    if (v4[i]) out.push(v4[i]!);
  }
  return out;
}

/** Resolve a host name to all its addresses (literals pass through). */
export async function resolveTargets(host: string, port: number): Promise<DialTarget[]> {
  if (familyOf(host)) return [{ host, port }];
  const all = await lookup(host, { all: true, verbatim: true });
  return all.map((a) => ({ host: a.address, port }));
}

/** The family a dial target belongs to (a name counts as IPv4, as the kernel would try it). */
export function targetFamily(t: DialTarget): Family {
  return familyOf(t.host) ?? 4;
}

/** What connects to one address: a Network's peer streams (StreamDialer), or HTTP streams (src/http/connect.ts). */
export interface Connector<T extends { close(): void }> {
  dial(target: DialTarget, opts: DialOneOptions): Promise<T>;
}

export function dial<T extends { close(): void }>(network: Connector<T>, targets: DialTarget[], opts: DialOptions = {}): Promise<T> {
  const allowed = opts.families ?? { 4: true, 6: true };
  const ordered = orderAddresses(targets).filter((t) => allowed[targetFamily(t)]);
  if (ordered.length === 0) return Promise.reject(new Error('no address of an enabled family to connect to'));
  const choice: TransportChoice = { ...(opts.prefer ? { prefer: opts.prefer } : {}), ...(opts.only ? { only: opts.only } : {}) };
  return staggeredRace(
    ordered.map((t) => (signal: AbortSignal) => network.dial(t, { signal, ...choice })),
    { staggerMs: opts.staggerMs ?? 250, timeoutMs: opts.timeoutMs ?? 10_000, ...(opts.signal ? { signal: opts.signal } : {}) },
  );
}

export interface RaceOptions {
  /** Delay before the next attempt starts while the previous is still pending. */
  staggerMs: number;
  /** Give up after this long (the attempts are aborted). */
  timeoutMs?: number;
  /** Give up when this aborts. */
  signal?: AbortSignal;
}

/** A race given up because its caller's signal aborted (not because the peer failed). */
export class ConnectAborted extends Error {
  constructor() {
    super('connect aborted');
  }
}

/**
 * Attempts started one after another, each `staggerMs` after the previous unless that one failed
 * already (a failure starts the next at once): the first to succeed wins, the others are aborted,
 * and one that succeeds too late is closed. Rejects with the last error once every attempt failed,
 * when `timeoutMs` passes or when `signal` aborts. Happy Eyeballs races a peer's addresses with it,
 * and a network speaking TCP and uTP its two transports to one address.
 */
export function staggeredRace<T extends { close(): void }>(attempts: Array<(signal: AbortSignal) => Promise<T>>, opts: RaceOptions): Promise<T> {
  if (attempts.length === 0) return Promise.reject(new Error('nothing to connect to'));
  if (opts.signal?.aborted) return Promise.reject(new ConnectAborted());
  return new Promise((resolve, reject) => {
    const abort = new AbortController();
    let next = 0;
    let failed = 0;
    let done = false;
    let lastError: Error | undefined;
    let staggerTimer: NodeJS.Timeout | undefined;
    const overall = opts.timeoutMs === undefined ? undefined : setTimeout(() => finish(new Error(`connect timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const onAbort = () => finish(new ConnectAborted());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (err: Error | undefined, winner?: T) => {
      if (done) return winner?.close();
      done = true;
      clearTimeout(overall);
      clearTimeout(staggerTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      abort.abort();
      if (winner) resolve(winner);
      else reject(err);
    };
    const start = () => {
      if (done || next >= attempts.length) return;
      const attempt = attempts[next++]!;
      attempt(abort.signal).then(
        (transport) => finish(undefined, transport),
        (e: Error) => {
          if (done) return;
          lastError = e;
          if (++failed === attempts.length) finish(lastError);
          else if (next < attempts.length) {
            clearTimeout(staggerTimer);
            start(); // a failure starts the next attempt at once
          }
        },
      );
      if (next < attempts.length) staggerTimer = setTimeout(start, opts.staggerMs);
    };
    start();
  });
}
