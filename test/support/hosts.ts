/**
 * A private /etc/hosts for one process: `unshare --mount` gives the process its own mount
 * namespace, in which the test's hosts file is bind-mounted over /etc/hosts. The network (and
 * every other process's /etc/hosts) stays as it is. Needs root.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes `lines` to `<dir>/hosts`; returns the command prefix that runs a program under it. */
export async function privateHosts(dir: string, lines: string[]): Promise<string[]> {
  const file = join(dir, 'hosts');
  await writeFile(file, `${lines.join('\n')}\n`);
  return ['unshare', '--mount', '--', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', file];
}
