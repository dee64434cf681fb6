import { describe, expect, it } from 'vitest';
import { type RoutingConfig, channelsFor, routingSchema } from './routing.js';

const at = (hhmm: string): number => Date.parse(`2026-11-22T${hhmm}:00Z`);
const routing = (raw: unknown): RoutingConfig => routingSchema.parse(raw);

describe('channelsFor', () => {
  const config = routing({
    routes: [
      { match: { service: ['checkout'], severity: ['critical'] }, channels: ['pagerduty', 'slack-pay'], continue: true },
      { match: { team: ['payments'] }, channels: ['slack-pay', 'mail-pay'] },
      { match: { service: ['search-api'] }, channels: ['slack-search'], quietHours: { from: '22:00', to: '07:00' } },
      { match: { severity: ['info'] }, channels: ['console'] },
    ],
    teams: { payments: ['checkout', 'cart'] },
  });
  const fallback = ['console'];

  it.each([
    ['a critical checkout incident: both routes, in order, no channel twice', 'checkout', 'critical', '12:00', ['pagerduty', 'slack-pay', 'mail-pay']],
    ['a warning on checkout skips the first route and matches by team', 'checkout', 'warning', '12:00', ['slack-pay', 'mail-pay']],
    ['a team service with no route of its own', 'cart', 'critical', '12:00', ['slack-pay', 'mail-pay']],
    ['search by day', 'search-api', 'warning', '12:00', ['slack-search']],
    ['search in quiet hours, before midnight: held', 'search-api', 'warning', '23:30', []],
    ['search in quiet hours, after midnight: held', 'search-api', 'warning', '06:59', []],
    ['search at the end of quiet hours', 'search-api', 'warning', '07:00', ['slack-search']],
    ['a critical search incident goes out even in quiet hours', 'search-api', 'critical', '03:00', ['slack-search']],
    ['no route matches: the fallback', 'profile', 'warning', '12:00', ['console']],
  ] as const)('%s', (_name, service, severity, time, expected) => {
    expect(channelsFor({ service, severity, ts: at(time) }, config, fallback)).toEqual(expected);
  });

  it('sends everything to the fallback when there are no routes', () => {
    expect(channelsFor({ service: 'x', severity: 'critical', ts: 0 }, routing({}), ['console', 'slack'])).toEqual(['console', 'slack']);
  });

  it('rejects a route without channels and a malformed time, naming the problem', () => {
    expect(routingSchema.safeParse({ routes: [{ channels: [] }] }).success).toBe(false);
    const bad = routingSchema.safeParse({ routes: [{ channels: ['x'], quietHours: { from: '25:00', to: '07:00' } }] });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toMatch(/HH:MM/);
  });
});
