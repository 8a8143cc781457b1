/**
 * Text from the network or from files (tracker messages, torrent names, tunnel Ids, peer client
 * names) on its way to a terminal or a log: control characters there are escape sequences that
 * can rewrite the screen, so they never get through as they are.
 */

/** C0 controls, DEL and the C1 controls (0x80-0x9f: 0x9b alone starts a CSI sequence in many terminals). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Whether `text` holds any C0, DEL or C1 control character. */
export function hasControl(text: string): boolean {
  return CONTROL.test(text);
}

/**
 * `text` safe to print: every C0, DEL and C1 control character becomes a visible `\xNN`
 * escape. With `maxLength`, only the first `maxLength` characters are kept (before escaping,
 * so the result is at most 4 x maxLength long).
 */
export function printable(text: string, maxLength?: number): string {
  const kept = maxLength !== undefined && text.length > maxLength ? text.slice(0, maxLength) : text;
  return kept.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
