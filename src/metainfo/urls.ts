/** Which URL strings a torrent, a magnet link or the command line may name as trackers and web seeds. */

function hasScheme(text: string, schemes: readonly string[]): boolean {
  // Whitespace and control characters are legal in nothing we would announce to or print.
  if (text.length === 0 || text.length > 2048 || /[\s\u0000-\u001f\u007f]/.test(text)) return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return schemes.includes(url.protocol) && url.hostname.length > 0;
}

/** http(s) and udp trackers are the kinds sixswarm announces to; anything else is ignored where it appears. */
export function isTrackerUrl(text: string): boolean {
  return hasScheme(text, ['http:', 'https:', 'udp:']);
}

/** BEP 19 web seeds sixswarm could fetch from. */
export function isWebSeedUrl(text: string): boolean {
  return hasScheme(text, ['http:', 'https:']);
}
