import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{ingest,rules,notifiers,state,app,simulate,bench}/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['node_modules', 'dist'],
    testTimeout: 60_000,
    // Kafka and Redis for the integration tests, started when they do not answer (scripts/services.mjs).
    globalSetup: ['test/services.setup.ts'],
  },
});
