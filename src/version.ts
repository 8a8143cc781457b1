/** The one place the version lives; the client name and peer id prefix derive from it. */
export const VERSION = '0.1.0';
export const CLIENT_NAME = `sixswarm ${VERSION}`;
/** Azureus-style peer id prefix: -SX0100- for 0.1.0. */
export const PEER_ID_PREFIX = `-SX${VERSION.split('.').map((n) => n.slice(-1)).join('')}0-`;
