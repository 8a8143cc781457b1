/**
 * PortMapper through what happens to real home routers (miniupnpd in namespaces,
 * test/support/natlab.ts): a reboot mid-run, a router that comes up after us, one that offers no
 * protocol at all, two LAN hosts wanting the same port, and the choice of the IPv6 address a
 * pinhole is asked for.
 */
import { describe, expect, test } from 'vitest';
import { LAB, natlabUnavailable, useNatLab, type NatLab } from '../support/natlab.js';

const skip = natlabUnavailable({ miniupnpd: true });

let lab: NatLab;

const granted = (family: number) => (e: Record<string, unknown>) => e.type === 'mapping' && e.family === family && e.transport === 'tcp' && ['granted', 'renewed', 'moved'].includes(e.change as string);

describe.skipIf(skip)('port mapping through router events', () => {
  useNatLab((l) => (lab = l));

  test('router rebooted mid-run (PCP): the mappings come back without restarting the mapper', async () => {
    await lab.startMiniupnpd();
    const port = 42001;
    const { m, status } = await lab.startMapper({ port });
    expect(status['4']).toMatchObject({ state: 'mapped', protocol: 'pcp' });
    expect(status['6']).toMatchObject({ state: 'pinholed', protocol: 'pcp' });
    expect(await lab.dial(4, port)).toMatch(/^REACHED/);

    await lab.routerDown();
    expect(await lab.dial(4, port)).toMatch(/^BLOCKED/);
    expect(await lab.dial(6, port)).toMatch(/^BLOCKED/);
    const from = m.lineCount;
    const t0 = Date.now();
    await lab.startMiniupnpd();
    // Its unsolicited ANNOUNCE (224.0.0.1:5350) says it restarted; the mapper waits 0-5 s (RFC 6887 14.1.3) and asks again.
    await m.waitFor(granted(4), 30_000, from);
    await m.waitFor(granted(6), 30_000, from);
    const back = Date.now() - t0;
    console.log(`PCP mappings back ${back} ms after the router restarted`);
    expect(m.logs()).toMatch(/announced a PCP restart|epoch/);
    expect(await lab.dial(4, port)).toMatch(/^REACHED/);
    expect(await lab.dial(6, port)).toMatch(/^REACHED/);
    expect(await lab.dial(4, port, 'udp')).toMatch(/^REACHED/);
    await m.stop();
    expect(await lab.rules()).not.toContain(`dnat ip to ${LAB.lan4}:${port}`);
  });

  test('router rebooted mid-run (UPnP only): the next renewal puts the mappings back', async () => {
    await lab.startMiniupnpd({ natpmp: false, pcp: false });
    const port = 42002;
    const { m, status } = await lab.startMapper({ port, lifetimeSeconds: 20 });
    expect(status['4']).toMatchObject({ state: 'mapped', protocol: 'upnp' });
    expect(status['6']).toMatchObject({ state: 'pinholed', protocol: 'upnp' });
    await lab.routerDown();
    expect(await lab.dial(4, port)).toMatch(/^BLOCKED/);
    const from = m.lineCount;
    const t0 = Date.now();
    await lab.startMiniupnpd({ natpmp: false, pcp: false });
    await m.waitFor(granted(4), 30_000, from);
    await m.waitFor(granted(6), 30_000, from);
    console.log(`UPnP mappings back ${Date.now() - t0} ms after the router restarted`);
    expect(await lab.dial(4, port)).toMatch(/^REACHED/);
    expect(await lab.dial(6, port)).toMatch(/^REACHED/);
    await m.stop();
    expect(await lab.upnpcList()).not.toContain(`${port}->`);
  });

  test('a router that comes up after the mapper is found within a minute', async () => {
    const port = 42003;
    const { m, status } = await lab.startMapper({ port });
    expect(status['4']).toMatchObject({ state: 'unreachable', reason: 'no-answer' });
    expect(status['6']).toMatchObject({ state: 'unreachable', reason: 'no-answer' });
    await new Promise((r) => setTimeout(r, 8000));
    const from = m.lineCount;
    const t0 = Date.now();
    await lab.startMiniupnpd();
    await m.waitFor(granted(4), 60_000, from);
    await m.waitFor(granted(6), 60_000, from);
    console.log(`late router (all protocols): mapped ${Date.now() - t0} ms after it started`);
    expect(await lab.dial(4, port)).toMatch(/^REACHED/);
    expect(await lab.dial(6, port)).toMatch(/^REACHED/);
    await m.stop();
  });

  test('a late UPnP-only router (no announcements) is found by periodic rediscovery within a minute', async () => {
    const port = 42004;
    const { m } = await lab.startMapper({ port, families: { 4: true, 6: false } });
    await new Promise((r) => setTimeout(r, 8000));
    const from = m.lineCount;
    const t0 = Date.now();
    await lab.startMiniupnpd({ natpmp: false, pcp: false });
    await m.waitFor(granted(4), 60_000, from);
    const took = Date.now() - t0;
    console.log(`late router (UPnP only): mapped ${took} ms after it started`);
    expect(took).toBeLessThan(60_000);
    expect(await lab.dial(4, port)).toMatch(/^REACHED/);
    await m.stop();
  });

  test('a router offering no protocol: the verdict says so per family, nothing hangs', async () => {
    // miniupnpd will not run with UPnP and NAT-PMP both off ("Why did you run me anyway?"): the router runs none.
    const port = 42005;
    const t0 = Date.now();
    const { m, status } = await lab.startMapper({ port });
    const took = Date.now() - t0;
    expect(took).toBeLessThan(12_000);
    for (const f of ['4', '6'] as const) {
      expect(status[f]).toMatchObject({ state: 'unreachable', reason: 'no-answer' });
      expect(String(status[f].detail)).toMatch(/pcp: .*port 5351 refused the request.*upnp: no UPnP gateway answered/);
    }
    expect(m.mappings().filter((e) => e.change === 'failed').length).toBeGreaterThanOrEqual(2);
    const stopped = await m.stop();
    expect(stopped.ms as number).toBeLessThan(1000);
  });

  for (const [name, router] of [
    ['PCP', {}],
    ['NAT-PMP', { pcp: false, upnp: false }],
    ['UPnP', { pcp: false, natpmp: false }],
    // An IGDv1 router: WANIPConnection:1 has no AddAnyPortMapping, AddPortMapping answers 718 and the mapper tries other ports.
    ['UPnP IGDv1', { pcp: false, natpmp: false, extra: ['force_igd_desc_v1=yes'] }],
  ] as const) {
    test(`two LAN hosts asking for the same port (${name}): the second is granted another port and says so`, async () => {
      await lab.startMiniupnpd(router);
      const port = { PCP: 42010, 'NAT-PMP': 42020, UPnP: 42030, 'UPnP IGDv1': 42040 }[name];
      const first = await lab.startMapper({ port, families: { 4: true, 6: false }, tag: 'lan2' }, lab.lan2);
      expect(first.status['4']).toMatchObject({ state: 'mapped', external: { port } });
      const second = await lab.startMapper({ port, families: { 4: true, 6: false }, tag: 'lan' });
      const v = second.status['4'] as { state: string; external: { port: number } };
      expect(v.state).toBe('mapped');
      expect(v.external.port).not.toBe(port);
      const tcp = second.m.mappings().find((e) => e.transport === 'tcp' && e.change === 'granted')!;
      expect(tcp).toMatchObject({ requestedPort: port, external: { port: v.external.port } });
      expect(second.m.logs()).toMatch(new RegExp(`port ${port} was not available`));
      // UDP follows TCP's external port, so one port is announced for both.
      expect((second.status['4'] as { udp?: { port: number } }).udp?.port).toBe(v.external.port);
      expect(await lab.dial(4, port)).toBe('REACHED hello-from-lan2');
      expect(await lab.dial(4, v.external.port)).toBe('REACHED hello-from-lan');
      await second.m.stop();
      await first.m.stop();
      expect(await lab.rules()).not.toContain('dnat ip to');
      if (name === 'UPnP IGDv1') expect(lab.miniupnpdLog).toMatch(/WANIPConnection:1#AddPortMapping[\s\S]*Returning UPnPError 718/);
    });
  }

  test('IPv6 renumbered mid-run: the pinhole follows the new address at the next renewal', async () => {
    await lab.startMiniupnpd({ minLifetime: 10 });
    const port = 42050;
    const { m, status } = await lab.startMapper({ port, families: { 4: false, 6: true }, lifetimeSeconds: 12 });
    expect(status['6']).toMatchObject({ state: 'pinholed', external: { address: LAB.lan6 } });
    const renumbered = '2001:db8:1::20';
    await lab.lan.ip(['-6', 'addr', 'add', `${renumbered}/64`, 'dev', 'eth0', 'nodad']);
    await lab.lan.ip(['-6', 'addr', 'del', `${LAB.lan6}/64`, 'dev', 'eth0']);
    try {
      const from = m.lineCount;
      await m.waitFor((e) => e.type === 'mapping' && e.change === 'granted' && (e.external as { address: string }).address === renumbered, 30_000, from);
      expect(m.logs()).toMatch(/the network changed \(gateway fe80::1%eth0, address 2001:db8:1::20\); dropping the mappings made before/);
      expect(m.mappings().filter((e) => e.change === 'lost').length).toBeGreaterThanOrEqual(1);
      expect(await lab.dial(6, port, 'tcp', renumbered)).toMatch(/^REACHED/);
      await m.stop();
    } finally {
      await lab.lan.ip(['-6', 'addr', 'add', `${LAB.lan6}/64`, 'dev', 'eth0', 'nodad']);
      await lab.lan.ip(['-6', 'addr', 'del', `${renumbered}/64`, 'dev', 'eth0']);
    }
  });

  test('IPv6: the pinhole is asked for the stable global address, never a deprecated or ULA one', async () => {
    await lab.startMiniupnpd();
    const port = 42060;
    // A second global address that is deprecated (preferred lifetime over) and a ULA: neither may be chosen.
    await lab.lan.ip(['-6', 'addr', 'add', '2001:db8:1::99/64', 'dev', 'eth0', 'nodad', 'preferred_lft', '0']);
    await lab.lan.ip(['-6', 'addr', 'add', 'fd00:1::10/64', 'dev', 'eth0', 'nodad']);
    try {
      const { m, status } = await lab.startMapper({ port, families: { 4: false, 6: true } });
      expect(status['6']).toMatchObject({ state: 'pinholed', external: { address: LAB.lan6, port } });
      expect(await lab.dial(6, port)).toMatch(/^REACHED/);
      await m.stop();
      // Asked to speak for the deprecated address (or the ULA), it refuses with the reason instead of asking the gateway.
      const dep = await lab.startMapper({ port: port + 1, families: { 4: false, 6: true }, address6: '2001:db8:1::99' });
      expect(dep.status['6']).toMatchObject({ state: 'unreachable', reason: 'no-address' });
      expect(String(dep.status['6'].detail)).toMatch(/2001:db8:1::99 is deprecated/);
      await dep.m.stop();
      const ula = await lab.startMapper({ port: port + 2, families: { 4: false, 6: true }, address6: 'fd00:1::10' });
      expect(String(ula.status['6'].detail)).toMatch(/fd00:1::10 is a ula address/);
      await ula.m.stop();
    } finally {
      await lab.lan.ip(['-6', 'addr', 'del', '2001:db8:1::99/64', 'dev', 'eth0']);
      await lab.lan.ip(['-6', 'addr', 'del', 'fd00:1::10/64', 'dev', 'eth0']);
    }
  });
});
