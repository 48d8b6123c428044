import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One graphql for everything: Node loads graphql's CommonJS entry for Pothos and yoga, while Vite would
    // resolve our own `import 'graphql'` to its ESM build — two copies whose instanceof checks reject each other.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Real servers, databases and sockets: give them room on 2 shared cores, never retry.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    setupFiles: ['test/support/setup.ts'],
  },
});
