/**
 * The name of every event the status feed reports (what `--json` prints), in the order
 * `--json`'s help lists them. A name missing here, or one that is no event, does not compile, so
 * the help cannot leave one out.
 */
import type { EngineEvent } from './feed.js';

type EventName = EngineEvent['event'];

/** `list`, which must hold every member of `U` (the compiler names the missing ones). */
function everyOf<U extends string>() {
  return <const L extends readonly U[]>(list: L & ([U] extends [L[number]] ? unknown : { missing: Exclude<U, L[number]> })): L => list;
}

export const EVENT_NAMES = everyOf<EventName>()([
  'listening',
  'checking',
  'checked',
  'metadata-waiting',
  'metadata',
  'metadata-failed',
  'tracker',
  'dht-listening',
  'dht',
  'lsd-listening',
  'lsd',
  'port-mapping',
  'tunnel',
  'peer-connected',
  'peer-disconnected',
  'peer-unreachable',
  'peer-refused',
  'peer-banned',
  'holepunch',
  'piece-verified',
  'piece-failed',
  'piece-blamed',
  'web-seed-failed',
  'progress',
  'complete',
  'seed-goal',
  'warning',
  'error',
  'stopped',
]);
