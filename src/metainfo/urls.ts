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

/** Why `text` is no tracker URL, for a person who typed it ("put the IPv6 address in brackets"); undefined when it is one. */
export function trackerUrlProblem(text: string): string | undefined {
  if (isTrackerUrl(text)) return undefined;
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i.exec(text.trim());
  if (!m || !['http', 'https', 'udp'].includes(m[1]!.toLowerCase())) return 'expected an http://, https:// or udp:// URL';
  const host = m[2]!.replace(/^[^@]*@/, '');
  // Two colons or more outside brackets: an IPv6 literal whose port cannot be told from it.
  if (!host.startsWith('[') && (host.match(/:/g) ?? []).length >= 2) {
    const port = /^(.*[^:]):(\d{1,5})$/.exec(host);
    const example = port ? `${m[1]}://[${port[1]}]:${port[2]}${m[3]}` : `${m[1]}://[${host}]:6969${m[3]}`;
    return `an IPv6 address in a URL goes in brackets: ${example}`;
  }
  return 'not a URL with a host (http://HOST:PORT/announce or udp://HOST:PORT)';
}

/** BEP 19 web seeds sixswarm could fetch from. */
export function isWebSeedUrl(text: string): boolean {
  return hasScheme(text, ['http:', 'https:']);
}
