/**
 * The propagation delay and random loss of bench/utp's shaped path (bench/lib/shaped-path.js),
 * run inside its path namespace: this kernel has no sch_netem, so a program does netem's part.
 * Each named TUN device (sixswarm's native TUN addon, from dist/) is one direction of the link:
 * the namespace routes that direction's packets into it, and every packet read is written back
 * DELAY_MS later (the kernel then routes it on, out of the far link), or dropped with probability
 * LOSS_PERCENT/100. The delay is one-way: the path's round trip is twice it. Timers are Node's,
 * so a packet leaves within about a millisecond of its time; packets keep their order.
 *
 *   node delay-line.js ROOT DELAY_MS LOSS_PERCENT DEVICE...
 *
 * Prints {"event":"ready"} once every device exists (down, without addresses: the caller sets
 * them up), and on SIGTERM {"event":"stats","devices":{NAME:{packets,dropped,maxHeld}}} and exits 0.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, delayText, lossText, ...names] = process.argv.slice(2);
const delayMs = Number(delayText);
const loss = Number(lossText) / 100;
const emit = (e) => process.stdout.write(`${JSON.stringify(e)}\n`);
if (!(delayMs >= 0) || !(loss >= 0 && loss < 1) || names.length === 0) {
  emit({ event: 'error', message: 'usage: delay-line.js ROOT DELAY_MS LOSS_PERCENT DEVICE...' });
  process.exit(1);
}
const { TunDevice } = await import(pathToFileURL(join(root, 'dist', 'src', 'tunnel', 'tun.js')).href);

/** One direction: packets held in arrival order with the time each may leave. */
class Line {
  constructor(name) {
    this.device = TunDevice.open(name);
    this.packets = [];
    this.due = [];
    this.head = 0;
    this.timer = undefined;
    this.stats = { packets: 0, dropped: 0, maxHeld: 0 };
    this.device.on('packet', (packet) => this.take(packet));
    this.device.on('error', (e) => {
      emit({ event: 'error', message: e.message });
      process.exit(1);
    });
    this.device.start();
  }

  take(packet) {
    this.stats.packets++;
    if (loss > 0 && Math.random() < loss) {
      this.stats.dropped++;
      return;
    }
    if (delayMs === 0) {
      this.device.write(packet, null);
      return;
    }
    this.packets.push(packet);
    this.due.push(performance.now() + delayMs);
    this.stats.maxHeld = Math.max(this.stats.maxHeld, this.packets.length - this.head);
    this.timer ??= setTimeout(() => this.release(), Math.floor(delayMs));
  }

  /**
   * Writes every packet whose time has come or will within a millisecond, then waits for the next.
   * Node's timers fire whole milliseconds late or on time, never early: asking for the floor of
   * the wait and sending up to 1 ms early centres the error on zero.
   */
  release() {
    this.timer = undefined;
    const now = performance.now() + 1;
    while (this.head < this.packets.length && this.due[this.head] <= now) {
      this.device.write(this.packets[this.head], null);
      this.packets[this.head++] = undefined;
    }
    if (this.head === this.packets.length) {
      this.packets.length = this.due.length = this.head = 0;
      return;
    }
    if (this.head > 4096) {
      this.packets.splice(0, this.head);
      this.due.splice(0, this.head);
      this.head = 0;
    }
    this.timer = setTimeout(() => this.release(), Math.max(0, Math.floor(this.due[this.head] - performance.now())));
  }
}

let lines;
try {
  lines = names.map((name) => new Line(name));
} catch (e) {
  emit({ event: 'error', message: e.message });
  process.exit(1);
}
emit({ event: 'ready' });
process.on('SIGTERM', () => {
  emit({ event: 'stats', devices: Object.fromEntries(lines.map((l) => [l.device.name, l.stats])) });
  for (const l of lines) l.device.close();
  process.exit(0);
});
