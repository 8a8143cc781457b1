/**
 * A private /etc/hosts for one process: `unshare --mount` gives the process its own mount
 * namespace, in which the test's hosts file is bind-mounted over /etc/hosts, and a resolv.conf
 * naming only 127.0.0.1 (where no name server listens) over /etc/resolv.conf, so that a name
 * missing from the file, or a TXT query (BEP 34), is answered "refused" at once and no query
 * ever leaves the machine. The network (and every other process's files) stays as it is. Needs root.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes `lines` to `<dir>/hosts`; returns the command prefix that runs a program under it. */
export async function privateHosts(dir: string, lines: string[]): Promise<string[]> {
  const hosts = join(dir, 'hosts');
  const resolv = join(dir, 'resolv.conf');
  await writeFile(hosts, `${lines.join('\n')}\n`);
  await writeFile(resolv, 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n');
  return ['unshare', '--mount', '--', 'sh', '-c', 'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', hosts, resolv];
}
