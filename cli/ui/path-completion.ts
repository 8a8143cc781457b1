/**
 * Tab in the add prompt: the path typed so far completed as a shell would. One match: completed
 * (a folder with its `/`); several: completed as far as they agree, and listed. Folders and
 * .torrent files are what the prompt takes, so other files are offered only when nothing else
 * matches. `~` stays as typed. Magnet links are left alone.
 */
import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Completion {
  /** The text with as much added as every match shares. */
  text: string;
  /** The names that match (folders with a trailing `/`), sorted; empty when none does. */
  candidates: string[];
}

/** The longest start `names` share. */
function sharedStart(names: readonly string[]): string {
  let start = names[0] ?? '';
  for (const n of names) while (!n.startsWith(start)) start = start.slice(0, -1);
  return start;
}

export async function completePath(text: string, home = homedir()): Promise<Completion> {
  if (/^magnet:/i.test(text)) return { text, candidates: [] };
  const slash = text.lastIndexOf('/');
  const folderTyped = slash >= 0 ? text.slice(0, slash + 1) : '';
  const prefix = text.slice(slash + 1);
  // ~ and ~/ mean the home folder, as in the shell (and as `a` accepts them).
  const folder = folderTyped === '' ? '.' : folderTyped === '~/' || folderTyped.startsWith('~/') ? join(home, folderTyped.slice(2)) : folderTyped;
  if (text === '~') return { text: '~/', candidates: [] };
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch {
    return { text, candidates: [] };
  }
  const matching = await Promise.all(
    entries
      .filter((e) => e.name.startsWith(prefix) && (prefix.startsWith('.') || !e.name.startsWith('.')))
      // A link counts as what it points to.
      .map(async (e) => ({ name: e.name, folder: e.isDirectory() || (e.isSymbolicLink() && (await stat(join(folder, e.name)).then((s) => s.isDirectory(), () => false))) })),
  );
  const wanted = matching.filter((e) => e.folder || e.name.endsWith('.torrent'));
  const names = (wanted.length > 0 ? wanted : matching).map((e) => (e.folder ? `${e.name}/` : e.name)).sort();
  if (names.length === 0) return { text, candidates: [] };
  return { text: folderTyped + (names.length === 1 ? names[0]! : sharedStart(names)), candidates: names };
}
