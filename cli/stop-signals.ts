/** Long-running commands stop cleanly on SIGINT or SIGTERM. */
export interface StopSignals {
  /** Resolves with the first SIGINT or SIGTERM. */
  stopped: Promise<NodeJS.Signals>;
  /** Remove the handlers (the default behaviour of the signals comes back). */
  dispose(): void;
}

export function stopSignals(): StopSignals {
  let onSignal: (sig: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    stopped,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The shell's code for a process ended by `sig` (128 + its number): 130 for SIGINT, 143 for SIGTERM. */
export function signalExitCode(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 130 : 143;
}
