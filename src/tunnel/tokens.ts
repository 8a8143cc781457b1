/**
 * Optional client authentication for the tunnel server. The original protocol has none (any
 * client may claim any Id, and so take over another client's prefix); our client can send a
 * `Token` in its hello, which the original server simply ignores.
 *
 * Tokens file: one `ID TOKEN` pair per line; `* TOKEN` is a shared token valid for any Id;
 * blank lines and lines starting with # are ignored.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InputError } from '../util/errors.js';
import { idProblem } from './handshake.js';

export type TokenVerdict = { ok: true } | { ok: false; reason: string };

export class TokenPolicy {
  private readonly perId = new Map<string, Buffer>();
  private readonly shared: Buffer[] = [];

  /** True when any token is configured: then every client must present a valid one. */
  get required(): boolean {
    return this.perId.size > 0 || this.shared.length > 0;
  }

  addShared(token: string): void {
    this.shared.push(digest(token));
  }

  add(id: string, token: string): void {
    this.perId.set(id, digest(token));
  }

  static async fromFile(file: string): Promise<TokenPolicy> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new InputError(`cannot read the tokens file ${file}: ${(e as Error).message}`);
    }
    const policy = new TokenPolicy();
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const parts = line.split(/\s+/);
      if (parts.length !== 2) throw new InputError(`tokens file ${file}, line ${i + 1}: expected "ID TOKEN" (or "* TOKEN")`);
      const [id, token] = parts as [string, string];
      const problem = id === '*' ? undefined : idProblem(id);
      if (problem) throw new InputError(`tokens file ${file}, line ${i + 1}: no client could present this Id: ${problem}`);
      if (id === '*') policy.addShared(token);
      else policy.add(id, token);
    });
    if (!policy.required) throw new InputError(`tokens file ${file} holds no tokens`);
    return policy;
  }

  check(id: string, token: string | undefined): TokenVerdict {
    if (!this.required) return { ok: true };
    if (token === undefined) return { ok: false, reason: 'this server requires a token (sixswarm tunnel up --token)' };
    const given = digest(token);
    const own = this.perId.get(id);
    // Compare fixed-size digests in constant time; try every shared token either way.
    let ok = own !== undefined && timingSafeEqual(own, given);
    for (const s of this.shared) ok = timingSafeEqual(s, given) || ok;
    return ok ? { ok: true } : { ok: false, reason: 'invalid token for this Id' };
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
