/** Test support for PEX between real processes. */
import type { SixswarmProcess } from './sixswarm.js';

/**
 * Resolves once each process has taken `n` PEX messages or more (from its `progress` events): the first
 * messages of its partners are out, so none of them names a peer that joins later for a minute.
 */
export async function heardPex(procs: SixswarmProcess[], n: number, timeoutMs = 10_000): Promise<void> {
  await Promise.all(
    procs.map((p) => p.waitFor((e) => e.event === 'progress' && ((e.pex as { messagesIn: number } | undefined)?.messagesIn ?? 0) >= n, timeoutMs, `${n} PEX messages at ${p.label}`)),
  );
}
