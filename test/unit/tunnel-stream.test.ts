/**
 * The tunnel's stream mode in-process: its frame codec (every frame type round trip, any
 * chunking, DATA handed on as slices, every malformed header refused), the flow-control windows
 * both ends keep, and the by-family composite network the engine runs on in that mode. The
 * namespace tests (test/netns/tunnel-stream*.test.ts) run the same code live.
 */
import { describe, expect, it } from 'vitest';
import { decode, encode, FrameReader, FrameType, header, HEADER_BYTES, MAX_DATA_BYTES, MAX_WINDOW, ProtocolError, type FrameHandler } from '../../src/tunnel/stream/frames.js';
import { ReceiveWindow, SendCredit } from '../../src/tunnel/stream/mux.js';
import { ByFamilyNetwork } from '../../src/transport/by-family.js';
import { MemoryInternet } from '../support/memory-network.js';

interface Seen {
  type: FrameType | 'data';
  id: number;
  payload: Buffer;
  last?: boolean;
}

/** A reader that records every frame (control payloads copied: they are views). */
function recorder(): { reader: FrameReader; seen: Seen[] } {
  const seen: Seen[] = [];
  const handler: FrameHandler = {
    data: (id, bytes, last) => seen.push({ type: 'data', id, payload: Buffer.from(bytes), last }),
    control: (type, id, payload) => seen.push({ type, id, payload: Buffer.from(payload) }),
  };
  return { reader: new FrameReader(handler), seen };
}

/** DATA slices joined per frame, so chunkings can be compared. */
function joined(seen: Seen[]): Seen[] {
  const out: Seen[] = [];
  let open: Seen | undefined;
  for (const s of seen) {
    if (s.type !== 'data') {
      out.push(s);
      continue;
    }
    if (open) open.payload = Buffer.concat([open.payload, s.payload]);
    else out.push((open = { ...s }));
    if (s.last) open = undefined;
  }
  return out.map(({ type, id, payload }) => ({ type, id, payload }));
}

function dataFrame(id: number, payload: Buffer): Buffer {
  return Buffer.concat([header(FrameType.DATA, id, payload.length), payload]);
}

const A = '2001:db8:1::1';
const B = '2001:db8:ffff::2';

const STREAM = Buffer.concat([
  encode.connect(1, { host: B, port: 6881 }, 4 << 20),
  encode.connected(1, 40000, 256 * 1024),
  dataFrame(1, Buffer.alloc(70_000, 0xab)),
  encode.window(1, 65536),
  encode.accept(2, 6881, { host: B, port: 50000 }, 16384),
  encode.listen(3, 6881),
  encode.listening(3, 6881),
  encode.udpBind(5, 6881),
  encode.udpBind(7, 0, { host: B, port: 6969 }),
  encode.udpBound(7, 41000),
  Buffer.concat([encode.datagramHead(7, { host: B, port: 6969 }, 5), Buffer.from('hello')]),
  encode.udpError(7, 'ECONNREFUSED', 'port unreachable'),
  dataFrame(2, Buffer.from('x')),
  encode.fin(1),
  encode.reset(2, 'ECONNRESET', 'connection reset by peer'),
]);

describe('stream-mode frames', () => {
  it('round-trips every frame type', () => {
    const { reader, seen } = recorder();
    reader.push(STREAM);
    const frames = joined(seen);
    expect(frames.map((f) => f.type)).toEqual([
      FrameType.CONNECT, FrameType.CONNECTED, 'data', FrameType.WINDOW, FrameType.ACCEPT, FrameType.LISTEN, FrameType.LISTENING,
      FrameType.UDP_BIND, FrameType.UDP_BIND, FrameType.UDP_BOUND, FrameType.DATAGRAM, FrameType.UDP_ERROR, 'data', FrameType.FIN, FrameType.RESET,
    ]);
    expect(decode.connect(frames[0]!.payload)).toEqual({ to: { host: B, port: 6881 }, window: 4 << 20 });
    expect(decode.connected(frames[1]!.payload)).toEqual({ localPort: 40000, window: 256 * 1024 });
    expect(frames[2]!.payload.equals(Buffer.alloc(70_000, 0xab))).toBe(true);
    expect(decode.window(frames[3]!.payload)).toBe(65536);
    expect(decode.accept(frames[4]!.payload)).toEqual({ localPort: 6881, remote: { host: B, port: 50000 }, window: 16384 });
    expect(decode.port(frames[5]!.payload)).toBe(6881);
    expect(decode.udpBind(frames[7]!.payload)).toEqual({ port: 6881 });
    expect(decode.udpBind(frames[8]!.payload)).toEqual({ port: 0, connectTo: { host: B, port: 6969 } });
    const d = decode.datagram(frames[10]!.payload);
    expect(d.remote).toEqual({ host: B, port: 6969 });
    expect(d.bytes.toString()).toBe('hello');
    expect(decode.error(frames[11]!.payload)).toEqual({ code: 'ECONNREFUSED', message: 'port unreachable' });
    expect(frames[13]).toMatchObject({ id: 1, payload: Buffer.alloc(0) });
    expect(decode.error(frames[14]!.payload)).toEqual({ code: 'ECONNRESET', message: 'connection reset by peer' });
  });

  it('gives the same frames however the stream is cut, handing DATA on as it arrives', () => {
    const whole = recorder();
    whole.reader.push(STREAM);
    const want = joined(whole.seen);
    for (const size of [1, 2, 3, 7, 9, 10, 1000, 65536]) {
      const { reader, seen } = recorder();
      for (let o = 0; o < STREAM.length; o += size) reader.push(STREAM.subarray(o, o + size));
      expect(joined(seen), `chunks of ${size}`).toEqual(want);
      // Trickled data is delivered in pieces, not held back until the frame is whole.
      if (size === 1000) expect(seen.filter((s) => s.type === 'data' && s.id === 1).length).toBeGreaterThan(60);
    }
  });

  it('refuses malformed frames at their header, and stays refused', () => {
    const cases: Array<[string, Buffer]> = [
      ['an unknown type', header(13 as FrameType, 1, 0)],
      ['a WINDOW of 3 bytes', header(FrameType.WINDOW, 1, 3)],
      ['an empty DATA frame', header(FrameType.DATA, 1, 0)],
      ['a DATA frame over the limit', header(FrameType.DATA, 1, MAX_DATA_BYTES + 1)],
      ['a huge RESET', header(FrameType.RESET, 1, 100_000)],
      ['a short DATAGRAM', header(FrameType.DATAGRAM, 1, 17)],
      ['a UDP_BIND of 5 bytes', header(FrameType.UDP_BIND, 1, 5)],
    ];
    for (const [what, bytes] of cases) {
      const { reader, seen } = recorder();
      expect(() => reader.push(bytes), what).toThrow(ProtocolError);
      expect(() => reader.push(encode.fin(1)), `${what}, then more`).toThrow(ProtocolError);
      expect(seen).toEqual([]);
    }
    // A 4 GiB length is refused at once, never waited for.
    const { reader } = recorder();
    expect(() => reader.push(header(FrameType.DATA, 1, 0xffffffff))).toThrow(/DATA frame of 4294967295 bytes/);
  });

  it('cuts error texts to a short printable line, and codes to capitals', () => {
    const e = decode.error(encode.reset(1, 'econn\u202ereset!', `bad\r\n\u202e${'x'.repeat(1000)}`).subarray(HEADER_BYTES));
    expect(e.code).toBe('EIO'); // nothing of the code survives the filter
    expect(e.message).not.toMatch(/[\r\n\u202e]/);
    expect(e.message.length).toBeLessThanOrEqual(200);
  });
});

describe('stream-mode windows', () => {
  it('a receive window refuses bytes beyond it and grants back in quarters', () => {
    const w = new ReceiveWindow(1000);
    w.take(600);
    expect(w.consumed(200)).toBe(0);
    expect(w.consumed(100)).toBe(300); // a quarter (250) is owed: all of it goes back
    w.take(700);
    expect(w.exhausted).toBe(true);
    expect(() => w.take(1)).toThrow(ProtocolError);
  });

  it('says when the other end came near the end of its window since the last grant (a larger one would carry more)', () => {
    const w = new ReceiveWindow(1000);
    w.take(500);
    expect(w.pressed).toBe(false);
    w.take(300);
    expect(w.pressed).toBe(true);
    expect(w.consumed(800)).toBe(800);
    expect(w.pressed).toBe(false); // measured afresh from the grant on
  });

  it('a window grows by what it is given, granted at once', () => {
    const w = new ReceiveWindow(1000);
    w.take(1000);
    expect(w.grow(1000)).toBe(1000);
    expect(w.size).toBe(2000);
    w.take(1000);
    expect(() => w.take(1)).toThrow(ProtocolError);
  });

  it('send credit refuses grants of 0 and floods past the largest window', () => {
    const c = new SendCredit(1000);
    c.spend(400);
    c.grant(400);
    expect(c.available).toBe(1000);
    expect(() => c.grant(0)).toThrow(ProtocolError);
    expect(() => c.grant(MAX_WINDOW)).toThrow(ProtocolError);
    expect(() => new SendCredit(MAX_WINDOW + 1)).toThrow(ProtocolError);
  });
});

describe('a network by family', () => {
  it('dials each family over its own network and listens on one port across them', async () => {
    const internet = new MemoryInternet();
    // Our host: IPv4 through one network, IPv6 through another (as the tunnel's stream mode does).
    const v4 = internet.host({ 4: '192.0.2.2' });
    const v6 = internet.host({ 6: A });
    const ours = new ByFamilyNetwork({ 4: v4, 6: v6 });
    const peer = internet.host({ 4: '192.0.2.9', 6: B });
    const atPeer: string[] = [];
    await peer.listen({ port: 7000, ipv4: true, ipv6: true }, (t) => atPeer.push(t.remote.host));
    const accepted: string[] = [];
    const listening = await ours.listen({ port: 0, ipv4: true, ipv6: true }, (t) => accepted.push(t.remote.host));
    expect(listening.map((l) => l.family).sort()).toEqual([4, 6]);
    expect(new Set(listening.map((l) => l.port)).size).toBe(1);
    const signal = new AbortController().signal;
    const t6 = await ours.dial({ host: B, port: 7000 }, { signal });
    const t4 = await ours.dial({ host: '192.0.2.9', port: 7000 }, { signal });
    expect([t6.localHost, t4.localHost]).toEqual([A, '192.0.2.2']);
    const port = listening[0]!.port;
    await peer.dial({ host: A, port }, { signal });
    await peer.dial({ host: '192.0.2.2', port }, { signal });
    await new Promise((r) => setTimeout(r, 10));
    expect(atPeer.sort()).toEqual(['192.0.2.2', A].sort());
    expect(accepted.sort()).toEqual(['192.0.2.9', B].sort());
    // Each family's UDP is its own network's (the memory network has none: its refusal names the family).
    await expect(ours.datagrams(6)).rejects.toThrow(/IPv6/);
    await expect(ours.datagrams(4)).rejects.toThrow(/IPv4/);
    await ours.close();
    expect(ours.listening()).toEqual([]);
  });
});
