import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Transfer, namespace and interop tests share ports, namespaces and two cores: run files one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
