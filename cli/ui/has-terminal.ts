/** Whether the terminal UI can run here; apart from the UI itself, so that asking loads no ink. */

/** The UI needs a terminal both ways: keys come from stdin, the screen goes to stdout. */
export function terminalUiPossible(json: boolean): boolean {
  return !json && !!process.stdout.isTTY && !!process.stdin.isTTY;
}
