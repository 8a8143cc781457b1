/**
 * Telling an incoming connection's first bytes apart: a plaintext BitTorrent handshake starts
 * with `\x13BitTorrent protocol`; anything else is taken for an MSE attempt (its first 96 bytes
 * are a Diffie-Hellman key, which begins with those 20 bytes once in 2^160).
 */

const PLAINTEXT_PREFIX = Buffer.from('\x13BitTorrent protocol', 'latin1');

/** Bytes the decision may need: never more than the plaintext prefix. */
const DETECT_BYTES = PLAINTEXT_PREFIX.length;

/** 'plaintext' or 'mse' as soon as `first` (the connection's first bytes so far) decides it; undefined while it cannot. */
export function classifyFirstBytes(first: Uint8Array): 'plaintext' | 'mse' | undefined {
  const n = Math.min(first.length, DETECT_BYTES);
  for (let i = 0; i < n; i++) if (first[i] !== PLAINTEXT_PREFIX[i]) return 'mse';
  return n === DETECT_BYTES ? 'plaintext' : undefined;
}
