/**
 * Label explosion: a million distinct routes, and a million distinct instances, for one
 * service. What the engine holds must stay within its caps (series per service, the route
 * template cache), the overflow must be counted, and the counter must show on /metrics.
 * Heap figures for the same load live in bench/ (bench/explosion.ts).
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createEngine } from '../rules/engine.js';
import { DEFAULT_RULES } from '../rules/config.js';
import { DEFAULT_CONFIG, type VigilConfig } from '../app/config-file.js';
import { startService } from '../app/service.js';
import { explosionRequest } from '../simulate/explosion.js';

describe('a million distinct label values', () => {
  it.each([
    ['routes', (i: number) => explosionRequest('distinct routes', i)],
    ['instances', (i: number) => explosionRequest('distinct instances', i)],
  ] as const)('distinct %s: series within the cap, the overflow counted', (what, make) => {
    const engine = createEngine(DEFAULT_RULES, () => {});
    const n = 1_000_000;
    for (let i = 0; i < n; i++) engine.push(make(i));
    const live = engine.live();
    // One version's main cohort, its routes capped, plus the overflow series.
    expect(live.series).toBeLessThanOrEqual(DEFAULT_RULES.window.maxSeriesPerService + 1);
    expect(engine.stats().accepted).toBe(n);
    if (what === 'routes') expect(engine.stats().overflowSeries).toBeGreaterThan(n - DEFAULT_RULES.window.maxSeriesPerService - 1);
  }, 120_000);

  it('the overflow counter moves on /metrics', async () => {
    const config: VigilConfig = { ...DEFAULT_CONFIG, server: { ...DEFAULT_CONFIG.server, port: 0 } };
    const service = await startService({ config, logger: pino({ level: 'silent' }), channels: new Map() });
    try {
      const read = async (): Promise<number> => {
        const text = await (await fetch(`${service.url}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('vigil_series_overflowed_total '));
        return line === undefined ? 0 : Number(line.split(' ')[1]);
      };
      expect(await read()).toBe(0);
      const cap = DEFAULT_RULES.window.maxSeriesPerService;
      const lines = Array.from({ length: cap + 500 }, (_, i) => JSON.stringify(explosionRequest('distinct routes', i)));
      const res = await fetch(`${service.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
      expect(res.status).toBe(202);
      expect(await read()).toBe(500);
    } finally {
      await service.close();
    }
  });
});
