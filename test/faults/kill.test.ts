/**
 * Instances of `vigil run` killed with SIGKILL at seeded points while a scenario streams
 * through the real broker, each replaced at once by a fresh one in the same group (shared
 * Redis state): every incident pages exactly once, and every version's verdict ends as it
 * does when the same stream is judged undisturbed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../rules/decisions.js';
import { catalogEntry, renderScenario } from '../../simulate/catalog.js';
import { createRng } from '../../simulate/random.js';
import {
  CLI, type Instance, deployment, finalVerdicts, pageNames, pagesPerIncident, produce, readDecisions, startInstance, testKafka, undisturbed, until,
} from './instances.js';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const kafka = testKafka(brokers);
const KILLS = 10;
const SEED = 20261207;

const running: Instance[] = [];
afterAll(async () => {
  for (const i of running) i.child.kill('SIGKILL');
  await Promise.all(running.map((i) => i.exited));
});

describe('instances killed at seeded points mid-stream', () => {
  it(`${KILLS} SIGKILLs, each replaced: every incident pages exactly once, every verdict ends as undisturbed`, async () => {
    const producer = kafka.producer();
    try {
      await producer.connect();
    } catch (err) {
      throw new Error(`no Kafka broker at ${brokers.join(',')}: start one with \`node scripts/services.mjs up\``, { cause: err });
    }
    const lines = [
      ...renderScenario(catalogEntry('two-services-two-regressions')!, 3).ndjson.split('\n'),
    ].filter((l) => l !== '');
    const d = await deployment(brokers, 3);

    // The reference: `vigil replay` of the same file, and one engine fed the same lines without an end of stream.
    const dir = await mkdtemp(join(tmpdir(), 'vigil-kill-'));
    await writeFile(join(dir, 'in.ndjson'), `${lines.join('\n')}\n`);
    await promisify(execFile)(process.execPath, [CLI, 'replay', join(dir, 'in.ndjson'), '--out', join(dir, 'out.ndjson')]);
    const replayed = (await readFile(join(dir, 'out.ndjson'), 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Decision);
    const live = undisturbed(lines);
    expect(pageNames(live)).toEqual(pageNames(replayed));
    expect(pageNames(live).length).toBeGreaterThan(1);

    // The simulator's seeded streams: kill points are the same on every run.
    const rng = createRng(SEED, 'kill points');
    const random = (): number => rng.next();
    // Kill points: fractions of the stream, sorted, at least 3% apart.
    const points: number[] = [];
    while (points.length < KILLS) {
      const p = 0.05 + random() * 0.9;
      if (points.every((q) => Math.abs(q - p) > 0.03)) points.push(p);
    }
    points.sort((a, b) => a - b);

    running.push(await startInstance(d), await startInstance(d));
    let sent = 0;
    const kills: { at: number; pid: number | undefined }[] = [];
    for (const p of points) {
      const to = Math.floor(lines.length * p);
      await produce(producer, d.topics.events, lines.slice(sent, to));
      sent = to;
      // Let the group work on it for a seeded while, then kill one of the two without warning.
      await new Promise((r) => setTimeout(r, 500 + Math.floor(random() * 2_500)));
      const victim = running.splice(Math.floor(random() * running.length), 1)[0]!;
      victim.child.kill('SIGKILL');
      await victim.exited;
      kills.push({ at: to, pid: victim.child.pid });
      running.push(await startInstance(d));
    }
    await produce(producer, d.topics.events, lines.slice(sent));
    await producer.disconnect();
    expect(kills).toHaveLength(KILLS);

    const want = pageNames(live);
    const wantVerdicts = finalVerdicts(live);
    let incidents: Decision[] = [];
    let verdicts: Decision[] = [];
    await until('every page and the final verdicts on the output topics', async () => {
      incidents = await readDecisions(kafka, d.topics.incidents, 2_000);
      verdicts = await readDecisions(kafka, d.topics.verdicts, 2_000);
      return pageNames(incidents).length >= want.length && JSON.stringify(finalVerdicts(verdicts)) === JSON.stringify(wantVerdicts);
    }, 180_000).catch(() => undefined);
    // Time for a page made twice to show, were there one.
    await new Promise((r) => setTimeout(r, 5_000));
    incidents = await readDecisions(kafka, d.topics.incidents);
    verdicts = await readDecisions(kafka, d.topics.verdicts);
    const pages = incidents.filter((x) => x.type === 'page');
    expect([...pagesPerIncident(incidents).values()].every((n) => n === 1), JSON.stringify(pages)).toBe(true);
    expect(pageNames(incidents)).toEqual(want);
    expect(finalVerdicts(verdicts)).toEqual(wantVerdicts);
  }, 600_000);
});
