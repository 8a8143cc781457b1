/**
 * Before a download contacts anyone: can its folder be written at all? A folder that cannot be
 * created, a read-only file system, missing permissions, or files of the torrent already there
 * that cannot be written are found here, with the path and the reason, instead of at the first
 * verified piece minutes later.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { quote } from '../metainfo/paths.js';
import { InputError } from '../util/errors.js';

/** "read-only file system (EROFS)" from Node's "EROFS: read-only file system, open '...'". */
function what(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const m = /^([A-Z]+): ([^,]+)/.exec(message);
  return m ? `${m[2]} (${m[1]})` : message;
}

/** What the messages about a folder call it, and what to do when it cannot be created or written. */
export interface FolderRole {
  /** "the download folder", "the state folder". */
  name: string;
  cannotCreate: string;
  cannotWrite: string;
}

const DOWNLOAD_FOLDER: FolderRole = { name: 'the download folder', cannotCreate: 'pick another with -o DIR', cannotWrite: 'make it writable or download elsewhere (-o DIR)' };

/** Prove `dir` writable by creating and removing a file in it. */
async function probeFolder(dir: string, role: FolderRole): Promise<void> {
  const probe = join(dir, `.sixswarm-write-test-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    await fh.close();
  } catch (e) {
    throw new InputError(`cannot write in ${role.name} ${quote(dir)} (${what(e)}): ${role.cannotWrite}`);
  }
  await unlink(probe).catch(() => {});
}

/** `dir` created if missing and proven writable, or an InputError naming it by its role, the reason, and what to do. */
export async function checkFolderWritable(dir: string, role: FolderRole): Promise<void> {
  await mkdir(dir, { recursive: true }).catch((e: unknown) => {
    throw new InputError(`cannot create ${role.name} ${quote(dir)} (${what(e)}): ${role.cannotCreate}`);
  });
  await probeFolder(dir, role);
}

/**
 * `root` (created if missing) and the torrent's folder in it, if there is one already, take new
 * files; `files` (paths of the torrent's files to write) that exist already can be written.
 */
export async function checkWritable(root: string, torrentFolder: string | undefined, files: string[]): Promise<void> {
  await checkFolderWritable(root, DOWNLOAD_FOLDER);
  if (torrentFolder) {
    const exists = await access(torrentFolder).then(() => true, () => false);
    if (exists) await probeFolder(torrentFolder, DOWNLOAD_FOLDER);
  }
  for (let i = 0; i < files.length; i += 256) {
    await Promise.all(
      files.slice(i, i + 256).map((f) =>
        access(f, constants.W_OK).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return;
          throw new InputError(`cannot write ${quote(f)}, a file of the torrent already in the download folder (${what(e)}): make it writable, or download elsewhere (-o DIR)`);
        }),
      ),
    );
  }
}
