/**
 * Which channels hear of an incident: routes matched in order on service, severity and
 * team, each with optional quiet hours, and the default channels when no route matches.
 * Pure, like the rest of the core: quiet hours are read off the decision's event time
 * (UTC), so a replay routes exactly as the live run did.
 */
import { z } from 'zod';
import type { Severity } from './decisions.js';

const SEVERITIES = ['critical', 'warning', 'info'] as const;
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (24 h, UTC)');

/** One route: what it matches, where it sends, and when it holds back. */
export const routeSchema = z.strictObject({
  /** Every given list must contain the incident's value; an empty match takes everything. */
  match: z.strictObject({
    service: z.array(z.string().min(1)).min(1).optional(),
    severity: z.array(z.enum(SEVERITIES)).min(1).optional(),
    /** Teams as `routing.teams` defines them (a team owns services). */
    team: z.array(z.string().min(1)).min(1).optional(),
  }).default({}),
  /** Channel names, as `notify.channels` defines them (`console` always exists). */
  channels: z.array(z.string().min(1)).min(1),
  /** In this daily stretch (UTC, may wrap midnight) only the listed severities go out through this route. */
  quietHours: z.strictObject({
    from: clock,
    to: clock,
    allow: z.array(z.enum(SEVERITIES)).default(['critical']),
  }).optional(),
  /** Also try the routes after this one when it matched. */
  continue: z.boolean().default(false),
});

/** Routing settings. */
export const routingSchema = z.strictObject({
  routes: z.array(routeSchema).default([]),
  /** Team name -> the services it owns, for `match.team`. */
  teams: z.record(z.string(), z.array(z.string().min(1))).default({}),
});

/** Routing settings after defaults. */
export type RoutingConfig = z.infer<typeof routingSchema>;

/** What routing looks at. */
export interface Routed {
  readonly service: string;
  readonly severity: Severity;
  /** Event time, epoch milliseconds. */
  readonly ts: number;
}

/** The channels an incident (or a decision about a service) goes to; `fallback` when no route matches. */
export function channelsFor(what: Routed, routing: RoutingConfig, fallback: readonly string[]): string[] {
  const out: string[] = [];
  let matched = false;
  for (const route of routing.routes) {
    if (!matches(route.match, what, routing.teams)) continue;
    matched = true;
    if (!quiet(route.quietHours, what)) for (const c of route.channels) if (!out.includes(c)) out.push(c);
    if (!route.continue) break;
  }
  return matched ? out : [...fallback];
}

function matches(m: z.infer<typeof routeSchema>['match'], what: Routed, teams: Readonly<Record<string, readonly string[]>>): boolean {
  if (m.service && !m.service.includes(what.service)) return false;
  if (m.severity && !m.severity.includes(what.severity)) return false;
  if (m.team && !m.team.some((t) => teams[t]?.includes(what.service) === true)) return false;
  return true;
}

/** Whether the route holds this decision back for its quiet hours. */
function quiet(q: z.infer<typeof routeSchema>['quietHours'], what: Routed): boolean {
  if (!q || q.allow.includes(what.severity)) return false;
  const minute = Math.floor((((what.ts % 86_400_000) + 86_400_000) % 86_400_000) / 60_000);
  const from = minutesOf(q.from), to = minutesOf(q.to);
  // A stretch that wraps midnight (22:00-07:00) is the complement of the one that does not.
  return from <= to ? minute >= from && minute < to : minute >= from || minute < to;
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}
