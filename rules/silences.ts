/**
 * Silences: label matchers that mute alerts for a stretch of time, from the config file or
 * created through the API, each with an expiry. The core only asks which silences are in
 * force at an event time; where they are kept (memory, Redis) is a port for the edge.
 */
import { z } from 'zod';
import type { Labels } from './events.js';
import { type Matcher, matchersSchema, matchesAll } from './matchers.js';

/** One silence: what it mutes and from when to when (epoch milliseconds, end excluded). */
export interface Silence {
  readonly id: string;
  readonly matchers: readonly Matcher[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly createdBy: string;
  readonly comment: string;
}

const isoOrEpoch = z.union([z.number().int(), z.iso.datetime({ offset: true }).transform((t) => Date.parse(t))]);

/** A silence as a config file or an API request gives it. */
export const silenceInputSchema = z.strictObject({
  id: z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only').optional(),
  matchers: matchersSchema,
  startsAt: isoOrEpoch.optional(),
  endsAt: isoOrEpoch,
  createdBy: z.string().max(256).default(''),
  comment: z.string().max(4096).default(''),
}).refine((s) => s.startsAt === undefined || s.endsAt > s.startsAt, { message: 'endsAt must be after startsAt', path: ['endsAt'] });

/** A silence input after parsing. */
export type SilenceInput = z.infer<typeof silenceInputSchema>;

/** The silence that mutes these labels at this time, if any (the first, by id, for a stable reason). */
export function silencing(silences: readonly Silence[], labels: Labels, atMs: number): Silence | undefined {
  let hit: Silence | undefined;
  for (const s of silences) {
    if (atMs < s.startsAt || atMs >= s.endsAt) continue;
    if (!matchesAll(s.matchers, labels)) continue;
    if (hit === undefined || s.id < hit.id) hit = s;
  }
  return hit;
}

/** Where silences made through the API are kept; every implementation passes one contract suite. */
export interface SilenceStore {
  /** Every silence not yet expired at `nowMs`, ordered by id. */
  list(nowMs: number): Promise<readonly Silence[]>;
  /** Adds or replaces a silence (same id); it is forgotten once it has expired. */
  put(silence: Silence): Promise<void>;
  /** Removes a silence; false when there was none with that id. */
  remove(id: string): Promise<boolean>;
}
