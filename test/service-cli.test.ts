/**
 * End-to-end tests of the service as a newcomer meets it: the built `vigil run` and
 * `vigil demo` in child processes, driven only through HTTP and their terminal output.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repoRoot, 'dist', 'app', 'cli.js');

/** A child `vigil` with its output so far. */
interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

const children: Child[] = [];

function vigil(args: readonly string[], env: Record<string, string> = {}): Child {
  const p = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const child: Child = {
    process: p, stdout: '', stderr: '',
    exited: new Promise((res) => p.on('close', (code) => res(code))),
  };
  p.stdout.setEncoding('utf8').on('data', (t: string) => (child.stdout += t));
  p.stderr.setEncoding('utf8').on('data', (t: string) => (child.stderr += t));
  children.push(child);
  return child;
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.process.exitCode === null) c.process.kill('SIGKILL');
});

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('vigil run', () => {
  it('starts with nothing configured, says where it listens, judges a simulated release posted to it, and stops cleanly on SIGTERM', async () => {
    const service = vigil(['run'], { VIGIL_PORT: '0' });
    const url = await until('the listening line', () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(service.stdout)?.[1]);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const sim = vigil(['simulate', 'parallel-canaries-one-bad', '--seed', '2', '--post', url, '--speed', 'max']);
    expect(await sim.exited).toBe(0);
    expect(sim.stderr).toMatch(/sent \d+ events/);

    const verdicts = (await (await fetch(`${url}/v1/verdicts`)).json()) as { verdicts: { version: string; verdict: string }[] };
    const byVersion = Object.fromEntries(verdicts.verdicts.map((v) => [v.version, v.verdict]));
    expect(byVersion).toMatchObject({ 'v311-us': 'FAIL', 'v311-eu': 'PASS', 'v311-ap': 'PASS' });
    // What a person watching the terminal sees: one page, for the bad canary, and its FAIL.
    expect(service.stdout.match(/PAGE /g)).toHaveLength(1);
    expect(service.stdout).toMatch(/PAGE .*search-api\s+v311-us/);
    expect(service.stdout).toMatch(/VERDICT FAIL\s+search-api\s+v311-us/);

    service.process.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    expect(service.stdout).toMatch(/stopped after \d+ events/);
    expect(service.stderr).toMatch(/"msg":"stopped"/);
  }, 60_000);

  it('refuses a bad environment value with the variable, the key and what is allowed', async () => {
    const service = vigil(['run'], { VIGIL_PORT: 'eighty' });
    expect(await service.exited).toBe(2);
    expect(service.stderr).toMatch(/VIGIL_PORT \(server\.port\): expected/);
  });

  it('refuses to listen beyond loopback without a bearer token', async () => {
    const service = vigil(['run'], { VIGIL_HOST: '0.0.0.0', VIGIL_PORT: '0', VIGIL_API_TOKEN: '' });
    expect(await service.exited).toBe(2);
    expect(service.stderr).toMatch(/VIGIL_API_TOKEN: must be set when server\.host \(0\.0\.0\.0\) is not loopback/);
  });

  it('says plainly when its port is taken', async () => {
    const first = vigil(['run'], { VIGIL_PORT: '0' });
    const port = await until('the first service', () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(first.stdout)?.[1]);
    const second = vigil(['run'], { VIGIL_PORT: port });
    expect(await second.exited).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\); set VIGIL_PORT`));
  });
});

describe('vigil demo', () => {
  it('shows the page, the FAIL of the bad canary, the PASS of the good ones, and where to look next', async () => {
    const demo = vigil(['demo', '--exit', '--speed', '600']);
    expect(await demo.exited).toBe(0);
    const out = demo.stdout;
    expect(out).toMatch(/PAGE .*v311-us/);
    expect(out).toMatch(/FAIL\s+search-api v311-us: 5xx ratio/);
    expect(out).toMatch(/PASS\s+search-api v311-eu/);
    expect(out).toMatch(/PASS\s+search-api v311-ap/);
    expect(out).toMatch(/1 incident: /);
    expect(out).toMatch(/Where to look next:[\s\S]*\/v1\/verdicts/);
  }, 60_000);
});
