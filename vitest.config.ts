import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{ingest,rules,notifiers,state,app,simulate,bench}/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['node_modules', 'dist'],
    testTimeout: 60_000,
  },
});
