import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Kafka and Redis for the integration tests, started when they do not answer (scripts/services.mjs).
    globalSetup: ['test/services.setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{ingest,rules,notifiers,state,app,simulate,bench}/**/*.test.ts', 'test/*.test.ts'],
          exclude: ['node_modules', 'dist'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // Faults: instances killed, Redis and a broker stopped, channels down. One file at a
          // time, since they stop and start servers and spawn instances on two shared cores.
          name: 'faults',
          include: ['test/faults/*.test.ts'],
          exclude: ['node_modules', 'dist'],
          testTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
