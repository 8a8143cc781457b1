/** FairSlots: unfinished work bounded per source host and in total, the newcomer never the one dropped. */
import { describe, expect, it } from 'vitest';
import { FairSlots } from '../../src/net/fair-slots.js';

describe('FairSlots', () => {
  it('a host at its share loses its own oldest entry to its newest', () => {
    const slots = new FairSlots<string>(2, 10);
    expect(slots.admit('a1', '192.0.2.1')).toBeUndefined();
    expect(slots.admit('a2', '192.0.2.1')).toBeUndefined();
    expect(slots.admit('b1', '192.0.2.2')).toBeUndefined();
    expect(slots.admit('a3', '192.0.2.1')).toBe('a1');
    expect([...slots.entries()].sort()).toEqual(['a2', 'a3', 'b1']);
    expect(slots.heldBy('192.0.2.1')).toBe(2);
  });

  it('when every slot is taken, the host holding the most loses its oldest; a newcomer always gets in', () => {
    const slots = new FairSlots<string>(8, 6);
    for (const id of ['a1', 'a2', 'a3', 'a4']) slots.admit(id, '192.0.2.1');
    slots.admit('b1', '192.0.2.2');
    slots.admit('c1', '192.0.2.3');
    expect(slots.admit('d1', '192.0.2.4')).toBe('a1');
    expect(slots.admit('d2', '192.0.2.4')).toBe('a2');
    expect(slots.admit('e1', '192.0.2.5')).toBe('a3'); // a: 2 left, d: 2, the first host with the most
    expect(slots.has('e1') && slots.has('b1') && slots.has('c1')).toBe(true);
    expect(slots.size).toBe(6);
  });

  it('an IPv6 /64 is one host; released entries free their slot; an entry is admitted once', () => {
    const slots = new FairSlots<object>(2, 10);
    const [x, y, z] = [{}, {}, {}];
    slots.admit(x, '2001:db8:0:1::1');
    slots.admit(y, '2001:db8:0:1:ffff::2');
    expect(slots.admit(z, '2001:db8:0:1::3')).toBe(x);
    expect(slots.heldBy('2001:db8:0:1::99')).toBe(2);
    expect(slots.admit(z, '2001:db8:0:1::3')).toBeUndefined();
    slots.release(y);
    slots.release(y);
    expect(slots.size).toBe(1);
    expect(slots.heldBy('2001:db8:0:1::1')).toBe(1);
  });
});
