/**
 * A real DNS server for one namespace: Debian's dnsmasq, with its own config (no upstream, no
 * /etc/hosts, authoritative for the test's names), listening on 127.0.0.1:53 inside the
 * namespace only, and /etc/netns/NAME/resolv.conf pointing there, which `ip netns exec` mounts
 * over /etc/resolv.conf for every program run in the namespace. stop() removes both.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Netns, NsProcess } from './netns.js';

export interface Zone {
  /** name -> its A and AAAA addresses (any number of each). */
  hosts: Record<string, string[]>;
  /** name -> its TXT strings. */
  txt?: Record<string, string[]>;
  /** The domain the server answers for alone (NXDOMAIN for names it does not know): "test". */
  domain: string;
}

export interface Dnsmasq {
  /** Queries answered so far, from its log (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const quote = (s: string) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;

export async function startDnsmasq(ns: Netns, dir: string, zone: Zone): Promise<Dnsmasq> {
  const lines = ['port=53', 'listen-address=127.0.0.1', 'bind-interfaces', 'no-resolv', 'no-hosts', 'no-negcache', `local=/${zone.domain}/`, 'log-queries', 'log-facility=-'];
  for (const [name, addresses] of Object.entries(zone.hosts)) {
    // A host-record takes one IPv4 and one IPv6 address: one line per pair, the rest alone.
    const v4 = addresses.filter((a) => !a.includes(':'));
    const v6 = addresses.filter((a) => a.includes(':'));
    for (let i = 0; i < Math.max(v4.length, v6.length); i++) lines.push(`host-record=${[name, v4[i], v6[i]].filter(Boolean).join(',')}`);
  }
  for (const [name, texts] of Object.entries(zone.txt ?? {})) for (const t of texts) lines.push(`txt-record=${name},${quote(t)}`);
  const conf = join(dir, 'dnsmasq.conf');
  await writeFile(conf, `${lines.join('\n')}\n`);
  const etc = join('/etc/netns', ns.name);
  await mkdir(etc, { recursive: true });
  await writeFile(join(etc, 'resolv.conf'), 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n');
  const proc: NsProcess = ns.spawn('dnsmasq', ['--keep-in-foreground', `--conf-file=${conf}`, '--pid-file=', '--user=root', '--group=root']);
  const stop = async () => {
    await proc.stop('SIGTERM', 2000);
    await rm(etc, { recursive: true, force: true });
  };
  // Ready once it answers: ask for a name it holds, from inside the namespace.
  const probe = Object.keys(zone.hosts)[0]!;
  for (const end = Date.now() + 10_000; ; ) {
    const r = await ns.exec('getent', ['ahosts', probe], 3000);
    if (r.code === 0) break;
    if (Date.now() > end || !proc.running) {
      const why = `dnsmasq did not answer for ${probe}: ${proc.stderr || r.stderr || 'it printed nothing'}`;
      await stop();
      throw new Error(why);
    }
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return { log: () => proc.stderr, stop };
}
