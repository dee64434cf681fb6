/**
 * The judge's settings, with the built-in defaults that `vigil replay` uses when no
 * config file is given. The schema is the single source of truth: config files are
 * parsed through it and every error names the bad key and what it allows.
 */
import { z } from 'zod';
import { routingSchema } from './routing.js';
import { alertsSchema } from './alerts.js';

const positiveMs = z.number().int().positive();
const probability = z.number().gt(0).lt(1);

/** Settings of the event-time windows. */
export const windowSchema = z.strictObject({
  /** Width of one time slice, the unit of storage and of time alignment. */
  sliceMs: positiveMs.default(10_000),
  /** Events up to this late (behind the newest event time) still count. */
  allowedLatenessMs: z.number().int().nonnegative().default(30_000),
  /**
   * An event further than this ahead of the watermark (a clock years off, seconds taken for
   * milliseconds) is refused and counted instead of moving event time there, which would
   * make every later event of the stream late.
   */
  maxAheadMs: positiveMs.default(24 * 3600_000),
  /** How much history each judged series keeps. */
  horizonMs: positiveMs.default(30 * 60_000),
  /** Distinct (version, route) series per service before new ones go to an overflow series. */
  maxSeriesPerService: z.number().int().positive().default(2_000),
  /** Distinct routes judged per service; the rest are judged together as `(other)`. */
  maxRoutesPerService: z.number().int().positive().default(50),
  /** Distinct error signatures kept per service; the rest are counted as overflow. */
  maxSignaturesPerService: z.number().int().positive().default(500),
  /** Relative accuracy of the latency sketches. */
  sketchRelativeAccuracy: z.number().gt(0).lt(0.5).default(0.02),
});

/** Settings of the canary-versus-baseline judge. */
export const judgeSchema = z.strictObject({
  /** How often, in event time, the judge evaluates every canary. */
  evaluateEveryMs: positiveMs.default(10_000),
  /** Sliding windows each signal is tested over (the whole canary life is added when longer). */
  windowsMs: z.array(positiveMs).min(1).default([3 * 60_000, 10 * 60_000]),
  /** Family-wise false-alarm probability per evaluation, split over all tests (Bonferroni). */
  familyAlpha: probability.default(1e-3),
  /**
   * A finding of the windowed tests must hold in every evaluation for at least this long
   * before it fails a release (the change detector, bounded by `changeAlpha`, need not wait).
   */
  persistMs: z.number().int().nonnegative().default(60_000),
  /**
   * Bursts up to this long do not fail a release: a finding is confirmed only by the data
   * that comes more than this long after it was first seen, on its own, when it favours
   * "the effect goes on" over "no difference" by odds of 1/confirmAlpha (so a difference
   * that is not there is confirmed with probability at most confirmAlpha).
   */
  blipMs: z.number().int().nonnegative().default(30_000),
  confirmAlpha: probability.default(0.01),
  /**
   * False-alarm probability, over a canary's whole life, of the change detector that fails a
   * release at once when the data since some change point (with any one burst left out)
   * already make the case beyond doubt.
   */
  changeAlpha: probability.default(1e-3),
  /** A signal that already failed a sibling canary of the same release fails this one at this p-value. */
  siblingAlpha: probability.default(1e-3),
  /** A finding holds only while the canary is still worse over this most recent stretch. */
  recentMs: positiveMs.default(60_000),
  /** A canary needs this much traffic and age before it can PASS. */
  minCanaryRequests: z.number().int().nonnegative().default(300),
  minCanaryAgeMs: z.number().int().nonnegative().default(5 * 60_000),
  /** Error findings need at least this many canary errors in the window. */
  minErrors: z.number().int().positive().default(5),
  /** Error findings need the canary's error ratio to be this many times the baseline's... */
  minErrorRatio: z.number().gt(1).default(1.5),
  /** ...and higher by at least this much, in absolute terms (0.002 = 0.2 percentage points). */
  minErrorRatioIncrease: z.number().nonnegative().default(0.002),
  /** Latency findings: the canary's median must be this many times the baseline's... */
  minLatencyRatio: z.number().gt(1).default(1.1),
  /** ...or its p95/p99 this many times the baseline's (tail-only regressions). */
  minTailRatio: z.number().gt(1).default(1.25),
  /** Latency tests need this many samples on each side. */
  minLatencySamples: z.number().int().positive().default(50),
  /** A new error signature needs this many occurrences in the canary. */
  minNewSignatureCount: z.number().int().positive().default(5),
  /** Other metrics: the canary's median must be this many times the baseline's. */
  minMetricRatio: z.number().gt(1).default(1.2),
  /** How long after a fleet-wide version change the new version is compared with the previous one's history. */
  selfHistoryMs: positiveMs.default(15 * 60_000),
});

/** Direction rule for a named metric: which way is worse. */
export const metricRuleSchema = z.strictObject({
  name: z.string().min(1),
  worse: z.enum(['higher', 'lower']).default('higher'),
});

/** Settings of incidents and paging. */
export const incidentSchema = z.strictObject({
  /** Channels an incident goes to when no route of `routing` matches it. */
  channels: z.array(z.string().min(1)).default(['console']),
  /** An incident whose findings have all cleared for this long resolves as recovered. */
  recoverAfterMs: positiveMs.default(10 * 60_000),
});

/** All settings of the pure core. */
export const rulesSchema = z.strictObject({
  window: windowSchema.default(windowSchema.parse({})),
  judge: judgeSchema.default(judgeSchema.parse({})),
  incidents: incidentSchema.default(incidentSchema.parse({})),
  metrics: z.array(metricRuleSchema).default([]),
  routing: routingSchema.default(routingSchema.parse({})),
  /** Alerts from monitoring systems: grouping, silences, inhibition, maintenance, flap control. */
  alerts: alertsSchema.default(() => alertsSchema.parse({})),
});

/** The judge's settings after defaults are applied. */
export type RulesConfig = z.infer<typeof rulesSchema>;

/** The built-in defaults. */
export const DEFAULT_RULES: RulesConfig = rulesSchema.parse({});
