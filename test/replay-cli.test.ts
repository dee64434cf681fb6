/**
 * End-to-end tests of the `vigil` command as a user runs it: the built CLI
 * (dist/, made by `npm run build`, which `npm test` runs first) in a child process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repoRoot, 'dist', 'app', 'cli.js');
const sharedScenarios = join(resolve(repoRoot, '..', 'shared'), 'scenarios');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface RunOptions {
  readonly input?: string | Buffer;
  /** Close our end of the child's stdout at once, as `| head` does when it has had enough. */
  readonly closeStdout?: boolean;
}

function vigil(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    if (options.closeStdout === true) child.stdout.destroy();
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

const T0 = Date.parse('2026-11-18T11:00:00Z');
const deploy = (version: string, role: string, instance: string, ts = T0): string =>
  JSON.stringify({ type: 'deploy', ts, service: 'checkout', version, role, action: 'start', instances: [instance] });
const request = (i: number, extra: object = {}): string =>
  JSON.stringify({ type: 'request', ts: T0 + 1_000 + i * 100, service: 'checkout', version: 'v41', instance: 'c-1', route: '/cart', status: 200, latency_ms: 20 + (i % 7), ...extra });

/** Three good events. */
const GOOD = [deploy('v41', 'stable', 'c-1'), request(0), request(1)].join('\n') + '\n';

let dir: string;
beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does it)`);
  dir = await mkdtemp(join(tmpdir(), 'vigil-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** Every stdout line is one decision record. */
function expectNdjsonDecisions(stdout: string): void {
  for (const line of stdout.split('\n').filter((l) => l !== '')) {
    const record = JSON.parse(line) as { type?: unknown; ts?: unknown };
    expect(['page', 'update', 'resolve', 'verdict', 'suppressed']).toContain(record.type);
    expect(typeof record.ts).toBe('string');
  }
}

describe('vigil replay', () => {
  it('replays a plain file and summarises on stderr', async () => {
    const run = await vigil(['replay', await file('good.ndjson', GOOD)]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('vigil replay: 3 events read, 3 accepted, 0 rejected');
    expect(run.stderr).toMatch(/decisions: \d+/);
    expect(run.stderr).toMatch(/elapsed [\d.]+ s, [\d,]+ events\/s/);
    expectNdjsonDecisions(run.stdout);
  });

  it('replays gzip input whatever its name, and stdin', async () => {
    const gz = await vigil(['replay', await file('good.data', gzipSync(GOOD))]);
    expect(gz.code).toBe(0);
    expect(gz.stderr).toContain('3 events read, 3 accepted, 0 rejected');
    const stdinPlain = await vigil(['replay', '-'], { input: GOOD });
    expect(stdinPlain.stderr).toContain('3 events read, 3 accepted, 0 rejected');
    const stdinDefault = await vigil(['replay'], { input: gzipSync(GOOD) });
    expect(stdinDefault.code).toBe(0);
    expect(stdinDefault.stderr).toContain('3 events read, 3 accepted, 0 rejected');
  });

  it('writes decisions to --out instead of stdout, the same bytes', async () => {
    const input = await file('for-out.ndjson', GOOD);
    const out = join(dir, 'decisions.ndjson');
    const toFile = await vigil(['replay', input, '--out', out]);
    const toStdout = await vigil(['replay', input]);
    expect(toFile.code).toBe(0);
    expect(toFile.stdout).toBe('');
    expect(await readFile(out, 'utf8')).toBe(toStdout.stdout);
  });

  it('rejects bad lines with reasons and still processes the good lines around them', async () => {
    const lines = [
      deploy('v41', 'stable', 'c-1'),
      'this is not json',
      request(0),
      JSON.stringify({ type: 'request', ts: T0 + 5, version: 'v41' }),
      request(1),
      JSON.stringify({ type: 'request', ts: 'soon', service: 'checkout' }),
      request(2, { pod: 'p-1' }),
    ];
    const input = await file('mixed.ndjson', lines.join('\n'));
    const run = await vigil(['replay', input]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      '7 events read, 4 accepted, 3 rejected (field "ts" is not a valid time: 1; missing field "service": 1; not JSON: 1)',
    );
    const shown = run.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; line: number; reason: string; sample: string });
    expect(shown.map((r) => [r.type, r.line])).toEqual([
      ['rejected', 2],
      ['rejected', 4],
      ['rejected', 6],
    ]);
    expect(shown[0]?.reason).toMatch(/^not JSON: /);
    expect(shown[0]?.sample).toBe('this is not json');
    expect(shown[1]?.reason).toBe('missing field "service"');

    const deadLetter = join(dir, 'dead.ndjson');
    const withFile = await vigil(['replay', input, '--dead-letter', deadLetter]);
    expect(withFile.stderr).not.toContain('{"type":"rejected"');
    const records = (await readFile(deadLetter, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { line: number });
    expect(records.map((r) => r.line)).toEqual([2, 4, 6]);
  });

  it('shows at most 20 rejected lines on stderr and counts the rest', async () => {
    const input = await file('junk.ndjson', `${Array.from({ length: 25 }, (_, i) => `junk ${i}`).join('\n')}\n${GOOD}`);
    const run = await vigil(['replay', input]);
    expect(run.code).toBe(0);
    expect(run.stderr.split('\n').filter((l) => l.startsWith('{"type":"rejected"'))).toHaveLength(20);
    expect(run.stderr).toContain('5 more rejected lines not shown');
    expect(run.stderr).toContain('28 events read, 3 accepted, 25 rejected (not JSON: 25)');
  });

  it('--quiet prints nothing on stderr', async () => {
    const run = await vigil(['replay', '--quiet', await file('quiet.ndjson', `junk\n${GOOD}`)]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('exits 2 on a bad config, naming the key', async () => {
    const config = await file('bad.yaml', 'judge:\n  familyAlpha: 5\nwindow:\n  sliceMs: ten\n');
    const run = await vigil(['replay', await file('c.ndjson', GOOD), '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('judge.familyAlpha: must be > 0 and < 1');
    expect(run.stderr).toContain('window.sliceMs: expected a positive integer, got "ten"');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  });

  it('exits 1 on a missing input file, naming it, and leaves --out alone', async () => {
    const missing = join(dir, 'no-such-file.ndjson');
    const out = await file('keep.ndjson', 'previous\n');
    const run = await vigil(['replay', missing, '--out', out]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot read ${missing}: no such file or directory`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(await readFile(out, 'utf8')).toBe('previous\n');
  });

  it('exits 1 when --out cannot be written, naming it', async () => {
    const out = join(dir, 'no-such-dir', 'out.ndjson');
    const run = await vigil(['replay', await file('o.ndjson', GOOD), '--out', out]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot write ${out}: no such file or directory`);
  });

  it('exits 2 on usage errors', async () => {
    const run = await vigil(['replay', '--no-such-flag']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown option '--no-such-flag'");
    expect((await vigil(['frobnicate'])).code).toBe(2);
  });

  const scenario = join(sharedScenarios, 'error-regression.ndjson.gz');
  it.skipIf(!existsSync(scenario))('stops quietly when its reader goes away (EPIPE), as under `| head`', async () => {
    // The scenario pages, so there is output to write into the closed pipe.
    const run = await vigil(['replay', scenario], { closeStdout: true });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('output closed early');
    expect(run.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
  });
});

describe('vigil config check', () => {
  it('prints ok for a good file', async () => {
    const run = await vigil(['config', 'check', await file('good.yaml', 'judge:\n  familyAlpha: 0.001\n')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('ok\n');
  });

  it('prints every problem and exits 2 for a bad file', async () => {
    const run = await vigil(['config', 'check', await file('bad2.yaml', 'judge:\n  foo: 1\n  minErrors: 0\n')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/judge\.foo: unknown key \(allowed: evaluateEveryMs, /);
    expect(run.stderr).toContain('judge.minErrors: must be a positive integer, got 0');
  });

  it('exits 1 for a missing file, naming it', async () => {
    const missing = join(dir, 'missing.yaml');
    const run = await vigil(['config', 'check', missing]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot read ${missing}`);
  });
});

describe('determinism', () => {
  const scenario = join(sharedScenarios, 'error-regression.ndjson.gz');
  const present = existsSync(scenario);
  if (!present) console.warn(`skipping the determinism test: ${scenario} is absent (the shared scenarios folder sits beside the repository)`);
  it.skipIf(!present)('replaying the same recording twice gives byte-identical decisions', async () => {
    const first = await vigil(['replay', '--quiet', scenario]);
    const second = await vigil(['replay', '--quiet', scenario]);
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expectNdjsonDecisions(first.stdout);
  });
});

describe('vigil simulate', () => {
  it('writes a labeled scenario that replay judges as its labels say', async () => {
    const labelsPath = join(dir, 'sim.labels.json');
    const sim = await vigil(['simulate', 'error-regression', '--seed', '2', '--labels', labelsPath]);
    expect(sim.code).toBe(0);
    const labels = JSON.parse(await readFile(labelsPath, 'utf8')) as { regressions: { versions: string[]; onset: string }[] };
    expect(labels.regressions[0]?.versions).toEqual(['v42']);
    const replayed = await vigil(['replay', '-', '--quiet'], { input: sim.stdout });
    expect(replayed.code).toBe(0);
    const decisions = replayed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; ts: string; versions?: string[] });
    const pages = decisions.filter((d) => d.type === 'page');
    expect(pages).toHaveLength(1);
    expect(pages[0]?.versions).toEqual(['v42']);
    const delayS = (Date.parse(pages[0]?.ts ?? '') - Date.parse(labels.regressions[0]?.onset ?? '')) / 1000;
    expect(delayS).toBeGreaterThan(0);
    expect(delayS).toBeLessThanOrEqual(300);
  });

  it('gives the same bytes for the same seed and says so when a name is unknown', async () => {
    const [a, b] = await Promise.all([vigil(['simulate', 'clean-canary', '--seed', '5']), vigil(['simulate', 'clean-canary', '--seed', '5'])]);
    expect(a.stdout.length).toBeGreaterThan(1000);
    expect(a.stdout).toBe(b.stdout);
    const bad = await vigil(['simulate', 'no-such-scenario']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('no scenario "no-such-scenario"');
  });
});

describe('the vigil bin', () => {
  it('is executable after the build, so `npx vigil` runs on a fresh clone', async () => {
    const { stat } = await import('node:fs/promises');
    expect((await stat(cli)).mode & 0o111).not.toBe(0);
  });
});
