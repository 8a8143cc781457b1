/**
 * The user names and passwords a daemon accepts (HTTP Basic), from a file the user keeps: one
 * `name:password` per line (the password may hold colons), `#` comments and blank lines
 * skipped. Like ssh with its keys, a file others may read is refused. Passwords are compared
 * by their SHA-256 in constant time, so the comparison says nothing of how much matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { open } from 'node:fs/promises';
import { InputError, errorMessage } from '../util/errors.js';

/** More than any list of users; a bigger file is not a credentials file. */
const MAX_FILE_BYTES = 64 * 1024;

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export class Credentials {
  private readonly users = new Map<string, Buffer>();

  constructor(pairs: { user: string; password: string }[]) {
    for (const { user, password } of pairs) this.users.set(user, digest(password));
    if (this.users.size === 0) throw new InputError('no user is given: credentials need at least one name:password');
  }

  /** Whether `user` exists with this password. */
  check(user: string, password: string): boolean {
    const want = this.users.get(user);
    // Hashed either way, so that an unknown user costs what a known one does.
    const got = digest(password);
    return want !== undefined && timingSafeEqual(want, got);
  }

  /** Read the file (refused when group or others may read it, or when it lists nobody). */
  static async load(file: string): Promise<Credentials> {
    let text: string;
    try {
      const fh = await open(file, 'r');
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw new InputError(`the credentials file ${file} is not a file`);
        if ((st.mode & 0o077) !== 0) throw new InputError(`the credentials file ${file} may be read by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 ${file}`);
        if (st.size > MAX_FILE_BYTES) throw new InputError(`the credentials file ${file} is larger than ${MAX_FILE_BYTES} bytes`);
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`cannot read the credentials file ${file}: ${errorMessage(e)}`);
    }
    const pairs: { user: string; password: string }[] = [];
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '' || line.trimStart().startsWith('#')) return;
      const colon = line.indexOf(':');
      if (colon <= 0 || colon === line.length - 1) throw new InputError(`the credentials file ${file}, line ${i + 1}: write name:password`);
      pairs.push({ user: line.slice(0, colon), password: line.slice(colon + 1) });
    });
    if (pairs.length === 0) throw new InputError(`the credentials file ${file} lists nobody: write one name:password per line`);
    return new Credentials(pairs);
  }
}

/** The name and password of an `Authorization: Basic ...` header, or undefined when it is none. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  if (!header || header.length > 4096) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
