import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RULES } from '../rules/config.js';
import { InputError } from '../ingest/lines.js';
import { ConfigError, DEFAULT_CONFIG, apiToken, loadConfigFile, parseConfigText, withEnvironment } from './config-file.js';

function problemsOf(text: string): readonly string[] {
  try {
    parseConfigText(text, 'test.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('parseConfigText', () => {
  it('gives the built-in defaults for an empty file or a section with no value', () => {
    expect(parseConfigText('')).toEqual(DEFAULT_CONFIG);
    expect(parseConfigText('# nothing set\njudge:\n')).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG).toMatchObject(DEFAULT_RULES);
  });

  it('overrides only what the file sets', () => {
    const config = parseConfigText('judge:\n  familyAlpha: 0.001\n  windowsMs: [60000]\nmetrics:\n  - name: queue_depth\n');
    expect(config.judge.familyAlpha).toBe(0.001);
    expect(config.judge.windowsMs).toEqual([60_000]);
    expect(config.judge.persistMs).toBe(DEFAULT_RULES.judge.persistMs);
    expect(config.window).toEqual(DEFAULT_RULES.window);
    expect(config.metrics).toEqual([{ name: 'queue_depth', worse: 'higher' }]);
  });

  const bad: readonly (readonly [name: string, yaml: string, problems: readonly (string | RegExp)[]])[] = [
    ['a probability out of range', 'judge:\n  familyAlpha: 2\n', ['judge.familyAlpha: must be > 0 and < 1, got 2']],
    ['a word where a number goes', 'window:\n  sliceMs: ten\n', ['window.sliceMs: expected a positive integer, got "ten"']],
    ['a fraction where an integer goes', 'judge:\n  persistMs: 1.5\n', ['judge.persistMs: expected an integer >= 0, got 1.5']],
    ['a negative duration', 'incidents:\n  recoverAfterMs: -1\n', ['incidents.recoverAfterMs: must be a positive integer, got -1']],
    ['an unknown key', 'judge:\n  foo: 1\n', [/^judge\.foo: unknown key \(allowed: evaluateEveryMs, windowsMs, familyAlpha, .*\)$/]],
    ['an unknown section', 'jugde: {}\n', [/^jugde: unknown key \(allowed: window, judge, incidents, metrics, routing, alerts, kafka, releaseTools, server, log, notify, webhooks\)$/]],
    ['an empty list that needs an entry', 'judge:\n  windowsMs: []\n', ['judge.windowsMs: must be a list of positive integers with at least 1 entry']],
    ['a bad list entry', 'judge:\n  windowsMs: [60000, x]\n', ['judge.windowsMs[1]: expected a positive integer, got "x"']],
    ['an enum value', 'metrics:\n  - name: q\n    worse: up\n', ['metrics[0].worse: invalid value "up" (allowed: higher, lower)']],
    ['a missing required key', 'metrics:\n  - worse: lower\n', ['metrics[0].name: missing (expected a non-empty string)']],
    ['an empty string', 'incidents:\n  channels: [""]\n', ['incidents.channels[0]: must be a non-empty string, got ""']],
    ['a scalar file', 'hello\n', [/^\(top level\): expected a mapping with keys window, judge, incidents, metrics, routing, alerts, kafka, releaseTools, server, log, notify, webhooks, got "hello"$/]],
    ['a section that is a list', 'judge: [1]\n', [/^judge: expected a mapping with keys .*, got a list$/]],
    ['bad YAML', 'judge:\n  windowsMs: [1,\n', [/^line \d+, column \d+: /]],
    ['a duplicate key', 'judge: {}\njudge: {}\n', ['line 2, column 1: Map keys must be unique']],
    ['an unresolved alias', 'judge: *nothing\n', [/alias/]],
  ];
  it.each(bad)('reports %s as KEY.PATH: problem', (_name, yaml, expected) => {
    const problems = problemsOf(yaml);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((want, i) => expect(problems[i]).toMatch(typeof want === 'string' ? new RegExp(`^${escapeRegExp(want)}$`) : want));
  });

  it('reports every problem of a file at once, in one error', () => {
    const text = 'window:\n  sliceMs: ten\njudge:\n  familyAlpha: 0\n  bogus: true\nmetrics:\n  - worse: up\n';
    let error: unknown;
    try {
      parseConfigText(text, 'mine.yaml');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('invalid config mine.yaml:');
    for (const key of ['window.sliceMs', 'judge.familyAlpha', 'judge.bogus', 'metrics[0].name', 'metrics[0].worse']) {
      expect(message).toContain(`  ${key}: `);
    }
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file', async () => {
    const path = join(dir, 'ok.yaml');
    await writeFile(path, 'window:\n  sliceMs: 5000\n');
    expect((await loadConfigFile(path)).window.sliceMs).toBe(5_000);
  });

  it('names the file in its errors', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'judge:\n  minErrors: 0\n');
    await expect(loadConfigFile(path)).rejects.toThrow(`invalid config ${path}:\n  judge.minErrors: must be a positive integer, got 0`);
  });

  it('fails with an InputError naming a missing file', async () => {
    const path = join(dir, 'missing.yaml');
    await expect(loadConfigFile(path)).rejects.toBeInstanceOf(InputError);
    await expect(loadConfigFile(path)).rejects.toThrow(`cannot read ${path}: no such file or directory`);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('the annotated example config', () => {
  it('is valid and gives exactly the built-in defaults, so that it documents them truly', async () => {
    const config = await loadConfigFile(new URL('../vigil.example.yaml', import.meta.url).pathname);
    expect(config).toEqual(DEFAULT_CONFIG);
  });
});

describe('withEnvironment', () => {
  it('overrides the file with the environment, numbers as numbers', () => {
    const config = withEnvironment(DEFAULT_CONFIG, { VIGIL_PORT: '0', VIGIL_HOST: '0.0.0.0', VIGIL_LOG_LEVEL: 'warn', UNRELATED: 'x' });
    expect(config.server.port).toBe(0);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.log.level).toBe('warn');
    expect(config.judge).toEqual(DEFAULT_CONFIG.judge);
    expect(withEnvironment(DEFAULT_CONFIG, {})).toBe(DEFAULT_CONFIG);
  });

  it('takes Kafka brokers from KAFKA_BROKERS, a comma list', () => {
    expect(withEnvironment(DEFAULT_CONFIG, { KAFKA_BROKERS: '127.0.0.1:9092, k2:9093' }).kafka.brokers).toEqual(['127.0.0.1:9092', 'k2:9093']);
    expect(() => withEnvironment(DEFAULT_CONFIG, { KAFKA_BROKERS: 'nohost' })).toThrow(/KAFKA_BROKERS \(kafka\.brokers\[0\]\): .*host:port/);
  });

  it('names the variable and the key of a bad value, with what is allowed', () => {
    let problems: readonly string[] = [];
    try {
      withEnvironment(DEFAULT_CONFIG, { VIGIL_PORT: 'eighty', VIGIL_LOG_LEVEL: 'loud' });
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^VIGIL_PORT \(server\.port\): expected .*, got "eighty"$/);
    expect(problems[1]).toMatch(/^VIGIL_LOG_LEVEL \(log\.level\): invalid value "loud" \(allowed: fatal, error, warn, info, debug, trace, silent\)$/);
    expect(() => withEnvironment(DEFAULT_CONFIG, { VIGIL_PORT: '70000' })).toThrow(/VIGIL_PORT \(server\.port\): must be/);
  });
});

describe('notification settings', () => {
  it('takes channels, routes naming them, and secrets by environment variable name', () => {
    const config = parseConfigText([
      'notify:',
      '  channels:',
      '    oncall-slack: { type: slack, channel: "#oncall", tokenEnv: VIGIL_SLACK_TOKEN }',
      '    pd: { type: pagerduty, routingKeyEnv: VIGIL_PD_KEY }',
      'routing:',
      '  routes:',
      '    - match: { severity: [critical] }',
      '      channels: [pd, oncall-slack, console]',
    ].join('\n'));
    expect(config.notify.channels['oncall-slack']).toMatchObject({ type: 'slack', minIntervalMs: 1_000 });
    expect(config.routing.routes[0]?.channels).toEqual(['pd', 'oncall-slack', 'console']);
  });

  it('names a route channel that no channel defines, a secret written in place of a variable name, and an unknown type', () => {
    const problems = problemsOf([
      'notify:',
      '  channels:',
      '    pd: { type: pagerduty, routingKeyEnv: "r0uting-key-in-the-file" }',
      '    fax: { type: fax }',
      'routing:',
      '  routes:',
      '    - channels: [slack]',
    ].join('\n'));
    expect(problems.join('\n')).toMatch(/notify\.channels\.pd\.routingKeyEnv: .*environment variable/);
    expect(problems.join('\n')).toMatch(/notify\.channels\.fax\.type/);
    expect(problems.join('\n')).toMatch(/routing\.routes\[0\]\.channels: unknown channel "slack"/);
  });
});

describe('apiToken', () => {
  const beyondLoopback = withEnvironment(DEFAULT_CONFIG, { VIGIL_HOST: '0.0.0.0' });
  it('is optional on loopback, required beyond it, and must look random', () => {
    expect(apiToken(DEFAULT_CONFIG, {})).toBeUndefined();
    expect(() => apiToken(beyondLoopback, {})).toThrow(ConfigError);
    expect(() => apiToken(beyondLoopback, {})).toThrow(/VIGIL_API_TOKEN/);
    expect(apiToken(beyondLoopback, { VIGIL_API_TOKEN: 'a-long-random-token-123' })).toBe('a-long-random-token-123');
    expect(() => apiToken(DEFAULT_CONFIG, { VIGIL_API_TOKEN: 'short' })).toThrow(/at least 16 characters/);
  });
});
