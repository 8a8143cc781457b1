/**
 * PortMapper against a real home router: Debian's miniupnpd (UPnP IGDv2, NAT-PMP, PCP, IPv6
 * pinholes) in a namespace doing IPv4 masquerade and a default-deny IPv6 firewall
 * (test/support/natlab.ts). A node process on the LAN host listens on a port and runs the
 * mapper; a peer on the WAN side dials that port: BLOCKED before, REACHED once mapped (IPv4 at the
 * router's WAN address, IPv6 straight at the LAN host through the pinhole), BLOCKED again and the
 * router's rules empty after a clean stop.
 *
 * Each protocol is offered alone by the router (enable_upnp / enable_natpmp, and an nftables rule
 * that drops either PCP or NAT-PMP requests by their version byte, since miniupnpd switches both
 * with one option), while the mapper runs its default order: the verdict must name the protocol
 * that is there.
 */
import { describe, expect, test } from 'vitest';
import { LAB, natlabUnavailable, useNatLab, type NatLab } from '../support/natlab.js';

const skip = natlabUnavailable({ miniupnpd: true });

let lab: NatLab;

/** Both transports on both families, as the WAN peer sees them. */
async function reach(port: number, families: Array<4 | 6> = [4, 6]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of families) for (const p of ['tcp', 'udp'] as const) out[`${p}${f}`] = (await lab.dial(f, port, p)).split(' ')[0]!;
  return out;
}

describe.skipIf(skip)('port mapping through miniupnpd', () => {
  useNatLab((l) => (lab = l));

  test('PCP alone: IPv4 mapping and IPv6 pinhole for TCP and UDP, reached from the WAN, deleted on stop', async () => {
    await lab.startMiniupnpd({ upnp: false, natpmp: false, pcp: true });
    const port = 41001;
    expect(await reach(port)).toEqual({ tcp4: 'BLOCKED', udp4: 'BLOCKED', tcp6: 'BLOCKED', udp6: 'BLOCKED' });
    const { m, started, status } = await lab.startMapper({ port });
    console.log(`PCP alone: both families mapped ${started.ms} ms after start`);
    expect(status['4']).toMatchObject({ state: 'mapped', protocol: 'pcp', external: { address: LAB.routerWan4, port }, udp: { address: LAB.routerWan4, port } });
    expect(status['6']).toMatchObject({ state: 'pinholed', protocol: 'pcp', external: { address: LAB.lan6, port }, udp: { address: LAB.lan6, port } });
    expect(await reach(port)).toEqual({ tcp4: 'REACHED', udp4: 'REACHED', tcp6: 'REACHED', udp6: 'REACHED' });
    const rules = await lab.rules();
    expect(rules).toContain(`dnat ip to ${LAB.lan4}:${port}`);
    expect(rules).toContain('0x20010db8000100000000000000000010'); // the pinhole for 2001:db8:1::10
    const granted = m.mappings().filter((e) => e.change === 'granted');
    expect(granted).toHaveLength(4);
    for (const e of granted) expect(e).toMatchObject({ protocol: 'pcp', lifetimeSeconds: expect.any(Number) });

    const stopped = await m.stop();
    expect(stopped.ms as number).toBeLessThan(5000);
    expect(m.mappings().filter((e) => e.change === 'deleted')).toHaveLength(4);
    expect(await lab.rules()).not.toContain(`dport ${port}`);
    expect(await reach(port)).toEqual({ tcp4: 'BLOCKED', udp4: 'BLOCKED', tcp6: 'BLOCKED', udp6: 'BLOCKED' });
  });

  test('NAT-PMP alone (a gateway that drops PCP): IPv4 mapped by NAT-PMP, IPv6 not reachable and says why', async () => {
    await lab.startMiniupnpd({ upnp: false, natpmp: true, pcp: false });
    const port = 41002;
    expect(await reach(port, [4])).toEqual({ tcp4: 'BLOCKED', udp4: 'BLOCKED' });
    const { m, started, status } = await lab.startMapper({ port });
    console.log(`NAT-PMP alone: first verdicts ${started.ms} ms after start (PCP's 3.75 s schedule runs out first on IPv6)`);
    expect(status['4']).toMatchObject({ state: 'mapped', protocol: 'natpmp', external: { address: LAB.routerWan4, port }, udp: { port } });
    expect(status['6']).toMatchObject({ state: 'unreachable', reason: 'no-answer' });
    expect(String(status['6'].detail)).toMatch(/pcp: no answer .*upnp: no UPnP gateway answered/);
    expect(await reach(port)).toEqual({ tcp4: 'REACHED', udp4: 'REACHED', tcp6: 'BLOCKED', udp6: 'BLOCKED' });
    expect(await lab.rules()).toContain(`dnat ip to ${LAB.lan4}:${port}`);
    await m.stop();
    expect(m.mappings().filter((e) => e.change === 'deleted')).toHaveLength(2);
    expect(await lab.rules()).not.toContain(`dport ${port}`);
    expect(await reach(port, [4])).toEqual({ tcp4: 'BLOCKED', udp4: 'BLOCKED' });
  });

  test('UPnP alone: AddAnyPortMapping for IPv4, WANIPv6FirewallControl pinholes for IPv6, listed by upnpc, deleted on stop', async () => {
    await lab.startMiniupnpd({ upnp: true, natpmp: false, pcp: false });
    const port = 41003;
    expect(await reach(port)).toEqual({ tcp4: 'BLOCKED', udp4: 'BLOCKED', tcp6: 'BLOCKED', udp6: 'BLOCKED' });
    const { m, started, status } = await lab.startMapper({ port, description: 'sixswarm-test' });
    console.log(`UPnP alone: both families mapped ${started.ms} ms after start`);
    expect(status['4']).toMatchObject({ state: 'mapped', protocol: 'upnp', external: { address: LAB.routerWan4, port } });
    expect(status['6']).toMatchObject({ state: 'pinholed', protocol: 'upnp', external: { address: LAB.lan6, port } });
    expect(await reach(port)).toEqual({ tcp4: 'REACHED', udp4: 'REACHED', tcp6: 'REACHED', udp6: 'REACHED' });
    const list = await lab.upnpcList();
    expect(list).toMatch(new RegExp(`TCP\\s+${port}->${LAB.lan4}:${port}\\s+'sixswarm-test'`));
    expect(list).toMatch(new RegExp(`UDP\\s+${port}->${LAB.lan4}:${port}\\s+'sixswarm-test'`));
    // The pinholes went to WANIPv6FirewallControl's own control URL.
    expect(lab.miniupnpdLog).toMatch(/WANIPv6FirewallControl:1#AddPinhole/);
    await m.stop();
    expect(await lab.upnpcList()).not.toContain(`${port}->`);
    expect(await lab.rules()).not.toContain(`dport ${port}`);
    expect(await reach(port)).toEqual({ tcp4: 'BLOCKED', udp4: 'BLOCKED', tcp6: 'BLOCKED', udp6: 'BLOCKED' });
  });

  test('all three offered: PCP first; leases shorter than the test are renewed and the port stays reachable', async () => {
    await lab.startMiniupnpd({ minLifetime: 10 });
    const port = 41004;
    const { m, status } = await lab.startMapper({ port, lifetimeSeconds: 16 });
    expect(status['4']).toMatchObject({ state: 'mapped', protocol: 'pcp' });
    expect(status['6']).toMatchObject({ state: 'pinholed', protocol: 'pcp' });
    // Renewed at half the lease (8 s): by 20 s every grant has been renewed twice, and the first lease has run out.
    await new Promise((r) => setTimeout(r, 20_000));
    for (const f of [4, 6]) {
      for (const t of ['tcp', 'udp']) {
        const renewed = m.mappings().filter((e) => e.family === f && e.transport === t && e.change === 'renewed');
        expect(renewed.length, `IPv${f} ${t} renewals`).toBeGreaterThanOrEqual(2);
      }
    }
    expect(m.mappings().filter((e) => e.change === 'lost' || e.change === 'failed')).toEqual([]);
    expect(await reach(port)).toEqual({ tcp4: 'REACHED', udp4: 'REACHED', tcp6: 'REACHED', udp6: 'REACHED' });
    await m.stop();
    // miniupnpd 2.3.1 forgets a renewed pinhole's PCP nonce and refuses its delete (fixed in later
    // releases): the mapper then cuts the lease to the gateway's least (min_lifetime, 10 s here).
    const rules = await lab.rules();
    expect(rules).not.toContain(`dnat ip to ${LAB.lan4}:${port}`);
    if (rules.includes(`dport ${port}`)) {
      expect(m.logs()).toMatch(/refused the delete: NOT_AUTHORIZED.*lease was cut to 10 s/);
      await new Promise((r) => setTimeout(r, 12_000));
      expect(await reach(port, [6])).toEqual({ tcp6: 'BLOCKED', udp6: 'BLOCKED' });
    }
  });

  test('UPnP leases are renewed too (AddAnyPortMapping / UpdatePinhole)', async () => {
    await lab.startMiniupnpd({ upnp: true, natpmp: false, pcp: false });
    const port = 41005;
    const { m } = await lab.startMapper({ port, lifetimeSeconds: 12 });
    await new Promise((r) => setTimeout(r, 16_000));
    for (const f of [4, 6]) expect(m.mappings().filter((e) => e.family === f && e.transport === 'tcp' && e.change === 'renewed').length).toBeGreaterThanOrEqual(2);
    expect(lab.miniupnpdLog).toMatch(/UpdatePinhole/);
    expect(await reach(port)).toEqual({ tcp4: 'REACHED', udp4: 'REACHED', tcp6: 'REACHED', udp6: 'REACHED' });
    await m.stop();
    expect(await lab.rules()).not.toContain(`dport ${port}`);
  });
});
