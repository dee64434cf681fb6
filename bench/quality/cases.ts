/**
 * The labeled suite's cases and how one case runs: its scenario is generated (or a shared
 * sample read), every event is decoded by the decoder `vigil replay` uses, and the
 * decoded stream goes through the three judges in
 * turn, each writing its decisions as NDJSON beside the labels for the shared scorer.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { decodeLine, decodeValue, type DecodeResult } from '../../ingest/decode.js';
import { DEFAULT_RULES } from '../../rules/config.js';
import type { Decision } from '../../rules/decisions.js';
import { createEngine } from '../../rules/engine.js';
import type { VigilEvent } from '../../rules/events.js';
import { catalogEntry, type CatalogGroup } from '../../simulate/catalog.js';
import { generate } from '../../simulate/generate.js';
import { labelsJson, labelsOf, type ScenarioLabels } from '../../simulate/labels.js';
import type { Scenario } from '../../simulate/model.js';
import { CanaryTestJudge } from '../peers/canary-test.js';
import { ThresholdJudge } from '../peers/threshold.js';
import { powerFaultName, powerLabels, powerScenario, type PowerFault } from './power.js';

/** The judges the suite compares, Vigil first. */
export const JUDGES = ['vigil', 'threshold', 'canary-test'] as const;
/** One of the judges. */
export type JudgeName = (typeof JUDGES)[number];

/** Where a case's stream comes from; plain data, so that it crosses to a worker thread. */
export type CaseSpec =
  | { readonly source: 'catalog'; readonly name: string; readonly seed: number }
  | { readonly source: 'power'; readonly fault: PowerFault | undefined; readonly rateRps: number; readonly seed: number }
  | { readonly source: 'sample'; readonly name: string; readonly dir: string };

/** Which part of the report a case belongs to. */
export type CaseGroup = CatalogGroup | 'grid' | 'clean' | 'sample';

/** What one judge did on one case. */
export interface JudgeRun {
  readonly decisionsFile: string;
  /** Time spent in the judge, decoding excluded. */
  readonly ms: number;
  /** The first FAIL verdict's event time per `service/version`. */
  readonly firstFailMs: Readonly<Record<string, number>>;
  readonly pages: number;
}

/** One case run by every judge. */
export interface CaseRun {
  readonly id: string;
  readonly group: CaseGroup;
  readonly spec: CaseSpec;
  readonly labelsFile: string;
  readonly labels: ScenarioLabels;
  readonly events: number;
  readonly rejected: number;
  readonly generateMs: number;
  readonly judges: Readonly<Record<JudgeName, JudgeRun>>;
}

/** A case's id, unique within a run. */
export function caseId(spec: CaseSpec): string {
  switch (spec.source) {
    case 'catalog':
      return `${spec.name}-seed${spec.seed}`;
    case 'power': {
      const fault = spec.fault === undefined ? 'clean' : powerFaultName(spec.fault).replace(/[ %+]+/g, '-').replace(/-+$/, '');
      return `grid-${fault}-${spec.rateRps}rps-seed${spec.seed}`;
    }
    case 'sample':
      return `sample-${spec.name}`;
  }
}

/** The report group of a case. */
export function caseGroup(spec: CaseSpec): CaseGroup {
  switch (spec.source) {
    case 'catalog':
      return catalogEntry(spec.name)?.group ?? 'core';
    case 'power':
      return spec.fault === undefined ? 'clean' : 'grid';
    case 'sample':
      return 'sample';
  }
}

/**
 * The decoded stream and labels of a case. A sample's lines are decoded as `vigil replay`
 * decodes them; a generated event goes to the same decoder as the value its line would
 * parse to, which saves writing and parsing the text (the wire events are plain JSON
 * values, so the decoder sees the same thing).
 */
function streamOf(spec: CaseSpec, id: string): { decoded: DecodeResult[]; labels: ScenarioLabels } {
  if (spec.source === 'sample') {
    const text = gunzipSync(readFileSync(join(spec.dir, `${spec.name}.ndjson.gz`))).toString('utf8');
    const labels = JSON.parse(readFileSync(join(spec.dir, `${spec.name}.labels.json`), 'utf8')) as ScenarioLabels;
    return { decoded: text.split('\n').filter((l) => l.length > 0).map(decodeLine), labels };
  }
  let scenario: Scenario;
  if (spec.source === 'catalog') {
    const entry = catalogEntry(spec.name);
    if (entry === undefined) throw new Error(`scenario ${spec.name} is not in the catalog`);
    scenario = entry.build(spec.seed);
  } else {
    scenario = powerScenario(id.replace(/-seed\d+$/, ''), { fault: spec.fault, rateRps: spec.rateRps }, spec.seed);
  }
  const events = generate(scenario.spec);
  const decoded = events.map((e) => decodeValue(e.event));
  const labels = spec.source === 'catalog' ? labelsOf(id, scenario.spec, scenario.expect, events.length) : powerLabels(id, scenario, events.length);
  return { decoded, labels };
}

/** A judge as the suite drives it. */
interface Driven {
  push(e: VigilEvent): void;
  finish(): void;
}

function judgeOf(name: JudgeName, emit: (d: Decision) => void): Driven {
  switch (name) {
    case 'vigil':
      return createEngine(DEFAULT_RULES, emit);
    case 'threshold':
      return new ThresholdJudge(emit);
    case 'canary-test':
      return new CanaryTestJudge(emit);
  }
}

/** Runs one judge over decoded events and returns its decisions as NDJSON text with what the report needs. */
export function runJudge(name: JudgeName, events: readonly VigilEvent[]): { ndjson: string; ms: number; firstFailMs: Record<string, number>; pages: number } {
  const out: string[] = [];
  const firstFailMs: Record<string, number> = {};
  let pages = 0;
  const started = performance.now();
  const judge = judgeOf(name, (d) => {
    out.push(JSON.stringify(d));
    if (d.type === 'page') pages++;
    if (d.type === 'verdict' && d.verdict === 'FAIL') {
      const key = `${d.service}/${d.version}`;
      firstFailMs[key] ??= Date.parse(d.ts);
    }
  });
  for (const e of events) judge.push(e);
  judge.finish();
  const ms = performance.now() - started;
  return { ndjson: out.length === 0 ? '' : `${out.join('\n')}\n`, ms, firstFailMs, pages };
}

/** Runs one case through every judge, writing its labels and decisions under `outDir`. */
export function runCase(spec: CaseSpec, outDir: string): CaseRun {
  const id = caseId(spec);
  const started = performance.now();
  const { decoded, labels } = streamOf(spec, id);
  const events: VigilEvent[] = [];
  let rejected = 0;
  for (const r of decoded) {
    if (r.ok) events.push(r.event);
    else rejected++;
  }
  const generateMs = performance.now() - started;
  const labelsFile = join(outDir, `${id}.labels.json`);
  writeFileSync(labelsFile, labelsJson(labels));
  const judges = {} as Record<JudgeName, JudgeRun>;
  for (const name of JUDGES) {
    const r = runJudge(name, events);
    const decisionsFile = join(outDir, `${id}.${name}.ndjson`);
    writeFileSync(decisionsFile, r.ndjson);
    judges[name] = { decisionsFile, ms: r.ms, firstFailMs: r.firstFailMs, pages: r.pages };
  }
  return { id, group: caseGroup(spec), spec, labelsFile, labels, events: decoded.length, rejected, generateMs, judges };
}
