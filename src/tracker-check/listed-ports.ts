/**
 * Whether anything answers on a port a BEP 34 record lists: a TCP connection accepted, or a BEP 15
 * connect request answered. One short probe each; nothing is announced.
 */
import { connect } from 'node:net';
import type { Family } from '../net/address.js';
import { formatHostPort } from '../net/hostport.js';
import type { Bep34Entry } from '../tracker/bep34.js';
import { TrackerError, toTrackerError } from '../tracker/errors.js';
import { ACTION, connectRequest, randomTx, replyHeader } from '../tracker/udp-protocol.js';
import { UdpProbe } from './udp-probe.js';

/** What answered at `address` on the entry's port, or a TrackerError saying why nothing did. */
export async function probeListedPort(entry: Bep34Entry, address: string, family: Family, timeoutMs: number, signal: AbortSignal): Promise<string> {
  const where = `${formatHostPort(address, entry.port)}/${entry.protocol}`;
  if (entry.protocol === 'tcp') {
    return new Promise<string>((resolve, reject) => {
      const s = connect({ host: address, port: entry.port, family, timeout: timeoutMs });
      const end = (e?: TrackerError) => {
        s.destroy();
        signal.removeEventListener('abort', onAbort);
        if (e) reject(e);
        else resolve(`${where} accepts connections`);
      };
      const onAbort = () => end(new TrackerError('cancelled'));
      signal.addEventListener('abort', onAbort, { once: true });
      s.once('connect', () => end());
      s.once('timeout', () => end(new TrackerError(`no answer from ${where} within ${timeoutMs / 1000} s`, { timedOut: true })));
      s.once('error', (e) => end((e as { code?: string }).code === 'ECONNREFUSED' ? new TrackerError(`connection refused by ${where}`, { code: 'ECONNREFUSED' }) : toTrackerError(e, where)));
    });
  }
  const probe = new UdpProbe(family, address, entry.port);
  try {
    const tx = randomTx();
    const ex = await probe.exchange(connectRequest(tx), tx, timeoutMs, signal);
    if (!ex.reply) throw new TrackerError(`no reply to a BEP 15 connect request from ${where} within ${timeoutMs / 1000} s`, { timedOut: true });
    const action = replyHeader(ex.reply)!.action;
    if (action !== ACTION.connect) throw new TrackerError(`${where} answered a connect request with action ${action}`);
    return `${where} answers BEP 15`;
  } catch (e) {
    const err = toTrackerError(e, where);
    throw err.code === 'ECONNREFUSED' ? new TrackerError(`port unreachable: nothing listens on ${where}`, { code: 'ECONNREFUSED' }) : err;
  } finally {
    probe.close();
  }
}
