import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Namespace topologies number their hosts from the documentation ranges and treat them as
    // the Internet (src/net/address.ts); spawned processes inherit this.
    // No engine a test starts joins the public DHT: tests that use the DHT give local nodes.
    // Nor does any ask the host's router for a port mapping: the port-mapping tests run their own routers.
    // Nor multicast local peer discovery on the host's LAN: the LSD tests run their own LANs.
    // And the UI draws as in a person's terminal: ink draws only a final frame when it believes it runs in CI.
    env: { CI: 'false', CONTINUOUS_INTEGRATION: 'false', SIXSWARM_TREAT_DOCUMENTATION_RANGES_AS_GLOBAL: '1', SIXSWARM_DHT_BOOTSTRAP: 'none', SIXSWARM_PORT_MAPPING: 'off', SIXSWARM_LSD: 'off' },
    reporters: ['default'],
    // Two files at a time on the 2-core CI machines: most of a file's time is waiting (leases,
    // timeouts, third-party clients), and one at a time the suite takes 27 min there.
    include: ['test/**/*.test.ts'],
    maxWorkers: 2,
  },
});
