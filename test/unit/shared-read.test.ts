/**
 * Connections we dial read into one buffer shared by all of them: over real loopback sockets,
 * every connection still gets exactly its own bytes, in order, when several stream at once;
 * bytes that arrive before anyone listens wait (bounded); accepted sockets keep their own chunks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectSharedRead, receive } from '../../src/transport/kernel/shared-read.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A server on [::1] that runs `onConnection` for each client; resolves to its port. */
async function serve(onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer(onConnection);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
  return (server.address() as { port: number }).port;
}

/** Everything a dialed socket receives, hashed chunk by chunk as it is handed over. */
function collect(socket: Socket): Promise<{ sha1: string; bytes: number; transient: boolean[] }> {
  const hash = createHash('sha1');
  let bytes = 0;
  const transient: boolean[] = [];
  receive(socket, (chunk, t) => {
    hash.update(chunk);
    bytes += chunk.length;
    transient.push(t);
  });
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve({ sha1: hash.digest('hex'), bytes, transient }));
  });
}

describe('shared read buffer', () => {
  it('gives each of several concurrent connections exactly its own bytes', async () => {
    const payloads = [randomBytes(5 * 1024 * 1024), randomBytes(3 * 1024 * 1024 + 17), randomBytes(4 * 1024 * 1024 + 1)];
    const ports = await Promise.all(
      payloads.map((p) =>
        serve((s) => {
          // Uneven writes, so reads on the three sockets interleave at every size.
          let at = 0;
          const pump = () => {
            while (at < p.length) {
              const n = 1 + Math.floor(Math.random() * 200_000);
              const ok = s.write(p.subarray(at, at + n));
              at += n;
              if (!ok) return void s.once('drain', pump);
            }
            s.end();
          };
          pump();
        }),
      ),
    );
    const results = await Promise.all(ports.map((port) => collect(connectSharedRead({ host: '::1', port }))));
    results.forEach((r, i) => {
      expect(r.bytes).toBe(payloads[i]!.length);
      expect(r.sha1).toBe(createHash('sha1').update(payloads[i]!).digest('hex'));
      expect(r.transient.every((t) => t)).toBe(true);
    });
  });

  it('keeps bytes that arrive before anyone listens, and hands them over first', async () => {
    const hello = randomBytes(50_000);
    const rest = randomBytes(300_000);
    let sendRest = () => {};
    const port = await serve((s) => {
      s.write(hello);
      sendRest = () => s.end(rest);
    });
    const socket = connectSharedRead({ host: '::1', port });
    await new Promise((r) => socket.once('connect', r));
    await new Promise((r) => setTimeout(r, 200)); // `hello` is read with no receiver yet
    const got = collect(socket);
    sendRest();
    const r = await got;
    expect(r.bytes).toBe(hello.length + rest.length);
    expect(r.sha1).toBe(createHash('sha1').update(hello).update(rest).digest('hex'));
    expect(r.transient[0]).toBe(false); // the early bytes are a copy the receiver may keep
  });

  it('closes a connection that sends more than 256 KiB before anyone listens', async () => {
    const port = await serve((s) => {
      s.on('error', () => {});
      s.write(randomBytes(1024 * 1024));
    });
    const socket = connectSharedRead({ host: '::1', port });
    const error = await new Promise<Error>((resolve) => socket.once('error', resolve));
    expect(error.message).toMatch(/too much before anyone read it/);
    expect(socket.destroyed).toBe(true);
  });

  it('leaves accepted sockets on their own chunks, which the receiver may keep', async () => {
    const payload = randomBytes(2 * 1024 * 1024);
    const accepted = new Promise<{ sha1: string; bytes: number; transient: boolean[] }>((resolve) => {
      void serve((s) => void collect(s).then(resolve)).then((port) => {
        const c = connectSharedRead({ host: '::1', port });
        c.end(payload);
      });
    });
    const r = await accepted;
    expect(r.bytes).toBe(payload.length);
    expect(r.sha1).toBe(createHash('sha1').update(payload).digest('hex'));
    expect(r.transient.every((t) => !t)).toBe(true);
  });
});
