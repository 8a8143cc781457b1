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
    // Two lines of files, side by side, each one file at a time: the tests in network namespaces
    // and against third-party programs, and those on this host's loopback (and in memory). Within
    // a line, transfer tests share two cores and would slow each other past their timeouts; across
    // the lines they share no address (namespaces have their own stacks, ports are picked free).
    projects: [
      { extends: true, test: { name: 'netns+interop', include: ['test/netns/**/*.test.ts', 'test/interop/**/*.test.ts'], fileParallelism: false } },
      { extends: true, test: { name: 'loopback', include: ['test/e2e/**/*.test.ts', 'test/engine/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/fuzz/**/*.test.ts'], fileParallelism: false } },
    ],
  },
});
