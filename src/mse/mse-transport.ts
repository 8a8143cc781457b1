/**
 * The transport a finished MSE handshake hands on: it wraps the transport the handshake ran
 * over, decrypts what arrives and encrypts what is written (RC4, both streams continued where
 * the handshake left them), or passes bytes through unchanged when plaintext was selected. The
 * payload that came with the handshake (the initial payload, the peer's first messages) is
 * delivered first.
 */
import type { PeerAddress } from '../net/compact.js';
import { EarlyReader } from '../transport/early-reader.js';
import type { Transport, TransportHandlers, TransportKind } from '../transport/transport.js';
import type { Rc4 } from './rc4.js';
import { WriteSlabs } from './write-slabs.js';

export class MseTransport implements Transport {
  readonly remote: PeerAddress;
  readonly kind: TransportKind;
  readonly localHost: string;
  readonly encrypted: boolean;
  closed = false;
  private readonly reader = new EarlyReader(() => this.end('peer sent too much before anyone read it'));
  private readonly slabs = new WriteSlabs();
  /** Where the inner transport's events go (its handlers belong to whoever ran the handshake). */
  readonly inbound: TransportHandlers = {
    data: (chunk, transient) => this.onData(chunk, transient),
    drain: () => this.reader.handlers?.drain(),
    close: (reason) => this.end(reason),
  };

  /**
   * `cipher` undefined: plaintext. `rest`: payload bytes already received (decrypted, ours).
   */
  constructor(
    private readonly inner: Transport,
    private readonly cipher: { encrypt: Rc4; decrypt: Rc4 } | undefined,
    rest: Buffer,
  ) {
    this.remote = inner.remote;
    this.kind = inner.kind;
    this.localHost = inner.localHost;
    this.encrypted = cipher !== undefined;
    if (rest.length > 0) this.reader.data(rest, false);
  }

  get queuedBytes(): number {
    return this.inner.queuedBytes;
  }

  start(handlers: TransportHandlers): void {
    this.reader.start(handlers);
  }

  write(b: Buffer, done?: () => void): void {
    if (this.closed) return done?.();
    if (!this.cipher) return this.inner.write(b, done);
    // The caller's buffer is not ours to change (a cached block may be sent to several peers).
    const [out, release] = this.slabs.take(b.length);
    this.cipher.encrypt.xor(b, out);
    this.inner.write(out, () => {
      release();
      done?.();
    });
  }

  cork(): void {
    this.inner.cork();
  }

  close(): void {
    this.reader.stop();
    if (this.closed) return;
    this.closed = true;
    this.inner.close();
  }

  private onData(chunk: Buffer, transient: boolean): void {
    if (this.closed) return;
    let out = chunk;
    if (this.cipher) {
      if (transient) {
        // Overwritten once we return anyway: decrypt where it lies and pass it on as transient.
        this.cipher.decrypt.xor(chunk, chunk);
      } else {
        // A chunk that may be kept may also be kept by whoever handed it over: decrypt a copy.
        out = Buffer.allocUnsafe(chunk.length);
        this.cipher.decrypt.xor(chunk, out);
      }
    }
    this.reader.data(out, transient);
  }

  private end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.inner.close();
    this.reader.end(reason);
  }
}
