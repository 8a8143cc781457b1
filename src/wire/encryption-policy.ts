/**
 * `--encryption prefer|require|allow|off`: what the handshaker accepts from peers that dial us,
 * how it dials, and what it remembers per peer about what worked.
 *
 *   policy   incoming                          outgoing
 *   prefer   MSE (RC4 chosen first) or plain   MSE offering RC4 only; plain if the peer does not speak MSE
 *   require  MSE with RC4 only                 MSE offering RC4 only, never plain
 *   allow    MSE (plaintext chosen first) or plain  plain; MSE (RC4 or plaintext) for a peer known to want it
 *   off      plain only                        plain only
 *
 * prefer offers RC4 alone because a responder that allows both picks plaintext (libtorrent
 * does), and prefer is for users who want their traffic hidden.
 */
import type { CryptoMethod } from '../mse/handshake.js';
import type { AcceptOptions } from '../mse/negotiate.js';

export const ENCRYPTION_POLICIES = ['prefer', 'require', 'allow', 'off'] as const;
export type EncryptionPolicy = (typeof ENCRYPTION_POLICIES)[number];

/** What worked with a peer's address last time. */
export type Remembered = 'mse' | 'plaintext';

/** How one dial goes. */
export type DialPlan =
  | { kind: 'plaintext' }
  /** `fallback`: redial in plaintext when the peer turns out not to speak MSE. */
  | { kind: 'mse'; provide: readonly CryptoMethod[]; fallback: boolean };

/** What `acceptIncoming` is told; undefined for `off`, where no MSE layer is put in at all. */
export function acceptPolicy(policy: EncryptionPolicy, findInfoHash: (req2Hash: Buffer) => Buffer | undefined): Omit<AcceptOptions, 'timeoutMs'> | undefined {
  switch (policy) {
    case 'off':
      return undefined;
    case 'require':
      return { plaintext: false, mse: { findInfoHash, allowed: ['rc4'] } };
    case 'prefer':
      return { plaintext: true, mse: { findInfoHash, allowed: ['rc4', 'plaintext'] } };
    case 'allow':
      return { plaintext: true, mse: { findInfoHash, allowed: ['plaintext', 'rc4'] } };
  }
}

/**
 * How to dial a peer: by policy, what worked with it before, and whether a source (PEX flag
 * 0x01) said it prefers encryption.
 */
export function dialPlan(policy: EncryptionPolicy, remembered: Remembered | undefined, prefersEncryption: boolean): DialPlan {
  switch (policy) {
    case 'off':
      return { kind: 'plaintext' };
    case 'require':
      return { kind: 'mse', provide: ['rc4'], fallback: false };
    case 'prefer':
      return remembered === 'plaintext' ? { kind: 'plaintext' } : { kind: 'mse', provide: ['rc4'], fallback: true };
    case 'allow':
      return remembered === 'mse' || (prefersEncryption && remembered !== 'plaintext') ? { kind: 'mse', provide: ['rc4', 'plaintext'], fallback: true } : { kind: 'plaintext' };
  }
}

/**
 * What worked per peer address (host:port), bounded: the oldest entry goes first. Only dials
 * write it, so a peer cannot fill it faster than we dial.
 */
export class EncryptionMemory {
  private readonly byAddress = new Map<string, Remembered>();

  constructor(private readonly max = 10_000) {}

  get(key: string): Remembered | undefined {
    return this.byAddress.get(key);
  }

  set(key: string, what: Remembered): void {
    this.byAddress.delete(key);
    this.byAddress.set(key, what);
    if (this.byAddress.size > this.max) this.byAddress.delete(this.byAddress.keys().next().value!);
  }

  forget(key: string): void {
    this.byAddress.delete(key);
  }
}
