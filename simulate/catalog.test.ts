import { describe, expect, it } from 'vitest';
import { CATALOG, catalogEntry, renderScenario, type CatalogEntry, type RenderedScenario } from './catalog.js';
import type { TimedEvent } from './generate.js';
import type { Scenario } from './model.js';
import { labelProblems } from './oracle.js';

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const ROLES = new Set(['canary', 'baseline', 'stable']);
const ACTIONS = new Set(['start', 'promote', 'rollback', 'finish']);
const SOURCES = new Set(['alertmanager', 'grafana', 'datadog', 'cloudwatch', 'sentry', 'generic']);

/** Why a parsed line breaks the event contract, or undefined when it is valid. */
function contractViolation(o: Record<string, unknown>): string | undefined {
  const str = (k: string): boolean => typeof o[k] === 'string' && (o[k] as string).length > 0;
  const num = (k: string): boolean => typeof o[k] === 'number' && Number.isFinite(o[k]);
  const optStr = (k: string): boolean => o[k] === undefined || str(k);
  if (typeof o['ts'] !== 'string' || !ISO_MS.test(o['ts'])) return 'ts is not ISO with ms';
  switch (o['type']) {
    case 'request':
      if (!str('service')) return 'request without service';
      if (!(optStr('version') && optStr('instance') && optStr('route'))) return 'request with a bad optional field';
      if (!num('status') || !Number.isInteger(o['status'])) return 'request status is not an integer';
      if (!num('latency_ms') || (o['latency_ms'] as number) < 0) return 'request latency is not a non-negative number';
      return undefined;
    case 'log':
      return str('service') && str('level') && str('message') && optStr('version') && optStr('instance') ? undefined : 'log misses service/level/message';
    case 'metric':
      return str('service') && str('name') && num('value') && optStr('version') && optStr('instance') && optStr('unit') ? undefined : 'metric misses service/name/value';
    case 'deploy':
      if (!(str('service') && str('version'))) return 'deploy misses service/version';
      if (!ROLES.has(o['role'] as string)) return `deploy role ${String(o['role'])}`;
      if (!ACTIONS.has(o['action'] as string)) return `deploy action ${String(o['action'])}`;
      if (!Array.isArray(o['instances']) || !o['instances'].every((i) => typeof i === 'string')) return 'deploy instances are not strings';
      return optStr('release') ? undefined : 'deploy release is not a string';
    case 'webhook':
      return SOURCES.has(o['source'] as string) && o['body'] !== undefined && o['body'] !== null ? undefined : 'webhook misses source/body';
    default:
      return `unknown type ${String(o['type'])}`;
  }
}

const rendered = new Map<string, { scenario: Scenario; r: RenderedScenario }>();
function render(entry: CatalogEntry, seed = 1): { scenario: Scenario; r: RenderedScenario } {
  const key = `${entry.name}/${seed}`;
  const hit = rendered.get(key);
  if (hit !== undefined) return hit;
  const r = renderScenario(entry, seed);
  const out = { scenario: r.scenario, r };
  rendered.set(key, out);
  return out;
}

function deployedVersions(events: readonly TimedEvent[]): Set<string> {
  const out = new Set<string>();
  for (const { event } of events) if (event.type === 'deploy') out.add(`${event.service}/${event.version}`);
  return out;
}

describe('the catalog', () => {
  it('has unique names, at least 15 core kinds, and a power group', () => {
    expect(new Set(CATALOG.map((e) => e.name)).size).toBe(CATALOG.length);
    expect(CATALOG.filter((e) => e.group === 'core').length).toBeGreaterThanOrEqual(15);
    expect(CATALOG.some((e) => e.group === 'power')).toBe(true);
    expect(catalogEntry('error-regression')?.group).toBe('core');
  });

  it('renders the same bytes for the same seed and different bytes for another', () => {
    const entry = catalogEntry('low-traffic-clean') as CatalogEntry;
    expect(renderScenario(entry, 4).ndjson === renderScenario(entry, 4).ndjson).toBe(true);
    expect(renderScenario(entry, 4).ndjson === renderScenario(entry, 5).ndjson).toBe(false);
  });

  it('reproduces the samples setup for the near-copies', () => {
    const { r } = render(catalogEntry('latency-regression') as CatalogEntry);
    const deploys = r.events.filter((e) => e.event.type === 'deploy').map((e) => JSON.stringify(e.event));
    expect(deploys).toEqual([
      '{"type":"deploy","ts":"2026-11-18T11:06:40.000Z","service":"checkout","version":"v41","role":"stable","action":"start","instances":["checkout-v41-0","checkout-v41-1","checkout-v41-2","checkout-v41-3","checkout-v41-4","checkout-v41-5","checkout-v41-6","checkout-v41-7"]}',
      '{"type":"deploy","ts":"2026-11-18T11:08:40.000Z","service":"checkout","version":"v41","role":"baseline","action":"start","instances":["checkout-v41-baseline-0"]}',
      '{"type":"deploy","ts":"2026-11-18T11:08:40.000Z","service":"checkout","version":"v42","role":"canary","action":"start","instances":["checkout-v42-0"]}',
    ]);
    expect(r.labels.regressions).toEqual([{ service: 'checkout', versions: ['v42'], onset: '2026-11-18T11:16:40.000Z', deadline_s: 300, signal: 'latency' }]);
    expect(r.labels.verdicts).toEqual({ 'checkout/v42': ['FAIL'] });
  });
});

describe('the label oracle', () => {
  it('flags regressions too weak to see and clean labels on a broken canary', () => {
    const weak = render(catalogEntry('power-rare-route-errors') as CatalogEntry);
    expect(labelProblems(weak.scenario, weak.r.events).join()).toMatch(/not plainly visible/);
    const broken = render(catalogEntry('error-regression') as CatalogEntry);
    const claimedClean: Scenario = {
      spec: { ...broken.scenario.spec, faults: [] },
      expect: { regressions: [], verdicts: { 'checkout/v42': ['PASS'] }, forbidVersions: [], maxUnattributedPages: 0 },
    };
    expect(labelProblems(claimedClean, broken.r.events).join()).toMatch(/checkout\/v42: clean, yet/);
  });
});

describe.each(CATALOG.map((e) => [e.name, e] as const))('%s', (_name, entry) => {
  it('writes only lines that are valid events, in emission order, inside the scenario', () => {
    const { scenario, r } = render(entry);
    const lines = r.ndjson.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(r.events.length);
    const start = scenario.spec.startEpochMs;
    const end = start + scenario.spec.durationMs;
    const problems = new Map<string, number>();
    let prevEmit = -Infinity;
    lines.forEach((line, i) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      const why = contractViolation(o);
      if (why !== undefined) problems.set(why, (problems.get(why) ?? 0) + 1);
      const t = Date.parse(o['ts'] as string);
      if (!(t >= start && t < end)) problems.set('ts outside the scenario', (problems.get('ts outside the scenario') ?? 0) + 1);
      const emit = (r.events[i] as TimedEvent).emitMs;
      if (emit < prevEmit) problems.set('not in emission order', (problems.get('not in emission order') ?? 0) + 1);
      prevEmit = emit;
    });
    expect(Object.fromEntries(problems)).toEqual({});
  });

  it('has labels that name deployed versions and agree with each other', () => {
    const { scenario, r } = render(entry);
    const l = r.labels;
    expect(l.scenario).toBe(`${entry.name}-seed1`);
    expect(l.events).toBe(r.events.length);
    const deployed = deployedVersions(r.events);
    const blamed = new Set<string>();
    for (const reg of l.regressions) {
      expect(reg.deadline_s).toBe(300);
      const onset = Date.parse(reg.onset);
      expect(onset).toBeGreaterThanOrEqual(scenario.spec.startEpochMs);
      // The whole deadline fits inside the recording.
      expect(onset + reg.deadline_s * 1000).toBeLessThanOrEqual(scenario.spec.startEpochMs + scenario.spec.durationMs);
      for (const v of reg.versions) {
        expect(deployed.has(`${reg.service}/${v}`)).toBe(true);
        expect(l.verdicts[`${reg.service}/${v}`]).toEqual(['FAIL']);
        blamed.add(v);
      }
    }
    for (const [key, allowed] of Object.entries(l.verdicts)) {
      expect(deployed.has(key)).toBe(true);
      const version = key.split('/')[1] ?? '';
      if (!blamed.has(version)) expect(allowed).not.toContain('FAIL');
    }
    for (const v of l.forbid_versions ?? []) expect(blamed.has(v)).toBe(false);
  });

  if (entry.group === 'core') {
    it('labels only what a naive comparison already sees plainly (honest labels)', () => {
      const { scenario, r } = render(entry);
      expect(labelProblems(scenario, r.events)).toEqual([]);
    });
  }
});
