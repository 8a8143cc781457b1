/**
 * Typed access to decoded values. Every getter names the field it was asked for, so a wrong
 * type in a torrent, tracker reply or extension message becomes a readable error.
 */
import { BDict, type BValue } from './decode.js';

export class FieldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FieldError';
  }
}

function kind(v: BValue | undefined): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'number' || typeof v === 'bigint') return 'an integer';
  if (Buffer.isBuffer(v)) return 'a string';
  if (Array.isArray(v)) return 'a list';
  return 'a dictionary';
}

const wrong = (name: string, want: string, v: BValue | undefined): never => {
  throw new FieldError(`"${name}" should be ${want} but is ${kind(v)}`);
};

export function asDict(v: BValue | undefined, name: string): BDict {
  return v instanceof BDict ? v : wrong(name, 'a dictionary', v);
}
export function asList(v: BValue | undefined, name: string): BValue[] {
  return Array.isArray(v) ? v : wrong(name, 'a list', v);
}
export function asBytes(v: BValue | undefined, name: string): Buffer {
  return Buffer.isBuffer(v) ? v : wrong(name, 'a string', v);
}
export function asString(v: BValue | undefined, name: string): string {
  return asBytes(v, name).toString('utf8');
}
/** Integers beyond 2^53 are refused here: no size, count or port in BitTorrent needs them. */
export function asInt(v: BValue | undefined, name: string): number {
  if (typeof v === 'bigint') throw new FieldError(`"${name}" is out of range (${v})`);
  return typeof v === 'number' ? v : wrong(name, 'an integer', v);
}

export const optDict = (v: BValue | undefined, name: string): BDict | undefined => (v === undefined ? undefined : asDict(v, name));
export const optList = (v: BValue | undefined, name: string): BValue[] | undefined => (v === undefined ? undefined : asList(v, name));
export const optBytes = (v: BValue | undefined, name: string): Buffer | undefined => (v === undefined ? undefined : asBytes(v, name));
export const optString = (v: BValue | undefined, name: string): string | undefined => (v === undefined ? undefined : asString(v, name));
export const optInt = (v: BValue | undefined, name: string): number | undefined => (v === undefined ? undefined : asInt(v, name));
