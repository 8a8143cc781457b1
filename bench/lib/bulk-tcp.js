/**
 * The competing TCP flow of bench/utp --cross-traffic (iperf3 is not installed here): a bulk
 * sender and a sink that throws the bytes away. What each flow got is counted on the path
 * (bench/lib/shaped-path.js), not here.
 *
 *   node bulk-tcp.js sink   HOST PORT   accepts any number of connections; {"event":"listening"}
 *   node bulk-tcp.js source HOST PORT   one connection, written to as fast as TCP takes it until
 *                                       SIGTERM; {"event":"connected"}
 * {"event":"error","message":...} and exit 1 on failure.
 */
import { connect, createServer } from 'node:net';

const [mode, host, portText] = process.argv.slice(2);
const port = Number(portText);
const emit = (e) => process.stdout.write(`${JSON.stringify(e)}\n`);
const fail = (e) => {
  emit({ event: 'error', message: e.message });
  process.exit(1);
};

if (mode === 'sink') {
  const server = createServer((s) => {
    s.on('error', () => s.destroy());
    s.resume();
  });
  server.on('error', fail);
  server.listen({ host, port }, () => emit({ event: 'listening' }));
} else if (mode === 'source') {
  const block = Buffer.alloc(256 * 1024, 0x5a);
  const s = connect({ host, port });
  s.on('error', fail);
  s.on('connect', () => {
    emit({ event: 'connected' });
    const fill = () => {
      while (s.write(block));
    };
    s.on('drain', fill);
    fill();
  });
  process.on('SIGTERM', () => {
    s.destroy();
    process.exit(0);
  });
} else {
  fail(new Error('usage: bulk-tcp.js sink|source HOST PORT'));
}
