/** The real opentracker (Debian's build: IPv4 only, whitelist mode) for the tests that talk to it, on 127.0.0.1 or in a namespace. */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { chmod, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface Opentracker {
  /** The TCP and UDP port on 127.0.0.1. */
  port: number;
  /** What it printed so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** A port free for both TCP and UDP on 127.0.0.1: opentracker listens on both. */
async function freeTcpUdpPort(): Promise<number> {
  for (;;) {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const p = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const udp = dgram.createSocket('udp4');
    const free = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(p, '127.0.0.1', () => r(true));
    });
    udp.close();
    if (free) return p;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Where opentracker runs when not on 127.0.0.1: an address and port inside a namespace. */
export interface OpentrackerPlace {
  address: string;
  port: number;
  /** Command prefix that runs it there (`ip netns exec NAME`). */
  wrap: string[];
  /** Whether it accepts TCP connections yet (the test process cannot dial into the namespace). */
  listening(): Promise<boolean>;
}

/**
 * Starts opentracker on 127.0.0.1 (or at `place`) serving only the `whitelist` info hashes (hex);
 * `dir` holds its files.
 */
export async function startOpentracker(dir: string, whitelist: string[], place?: OpentrackerPlace): Promise<Opentracker> {
  // opentracker chroots into -d and drops to "nobody": the whitelist path is relative to the chroot.
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'whitelist.txt'), whitelist.map((h) => `${h}\n`).join(''), { mode: 0o644 });
  await writeFile(join(dir, 'ot.conf'), 'access.whitelist /whitelist.txt\n', { mode: 0o644 });
  const port = place?.port ?? (await freeTcpUdpPort());
  const args = ['-i', place?.address ?? '127.0.0.1', '-p', String(port), '-P', String(port), '-f', join(dir, 'ot.conf'), '-d', dir];
  const cmd = [...(place?.wrap ?? []), 'opentracker', ...args];
  const ot = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  ot.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  ot.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async (): Promise<void> => {
    if (ot.exitCode !== null || ot.signalCode !== null) return;
    const exited = new Promise((r) => ot.once('exit', r));
    ot.kill('SIGTERM');
    const t = setTimeout(() => ot.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  const ready = place ? place.listening : () => listening(port);
  for (const end = Date.now() + 10_000; !(await ready()); ) {
    if (Date.now() > end || ot.exitCode !== null) {
      await stop();
      throw new Error(`opentracker not listening on ${port}: ${log || 'it printed nothing'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, log: () => log, stop };
}
