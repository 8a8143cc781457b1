/**
 * Long-running commands stop cleanly on SIGINT or SIGTERM, and on SIGHUP: the terminal they run in
 * was closed (resume state saved, temporary folders removed, as for Ctrl-C).
 */
export interface StopSignals {
  /** Resolves with the first SIGINT, SIGTERM or SIGHUP. */
  stopped: Promise<NodeJS.Signals>;
  /** Remove the handlers (the default behaviour of the signals comes back). */
  dispose(): void;
}

export function stopSignals(): StopSignals {
  let first: NodeJS.Signals | undefined;
  let resolve!: (sig: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((r) => (resolve = r));
  // Kept until disposed, not `once`: a module that also listens (ink's signal-exit) re-raises a
  // signal that it finds nobody else handling, which would kill us before the clean stop.
  const onSignal = (sig: NodeJS.Signals) => {
    if (first === undefined) {
      first = sig;
      resolve(sig);
    } else if (sig !== 'SIGHUP') process.exit(signalExitCode(first));
    // A second SIGINT or SIGTERM while stopping: stop at once. A SIGHUP (the terminal went away,
    // and our output with it) never hurries a clean stop.
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  return {
    stopped,
    dispose() {
      for (const sig of SIGNALS) process.off(sig, onSignal);
    },
  };
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The shell's code for a process ended by `sig` (128 + its number): 129 for SIGHUP, 130 for SIGINT, 143 for SIGTERM. */
export function signalExitCode(sig: NodeJS.Signals): number {
  return sig === 'SIGHUP' ? 129 : sig === 'SIGINT' ? 130 : 143;
}
