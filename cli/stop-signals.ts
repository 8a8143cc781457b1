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
