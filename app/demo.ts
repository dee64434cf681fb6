/**
 * `vigil demo`: the service and a simulated release, in one terminal. Release r311 of
 * search-api goes to three parallel canaries beside the stable v310; one of them starts
 * failing. Half an hour of its traffic goes through the service's HTTP API in about a
 * minute, and the terminal shows what on-call would see: the page, the verdicts, and
 * where to look next.
 */
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { VerdictView, IncidentView } from '../state/decisions.js';
import { catalogEntry, renderScenario } from '../simulate/catalog.js';
import { httpSender, streamEvents } from '../simulate/stream.js';
import { ConsoleNotifier } from '../notifiers/console.js';
import type { VigilConfig } from './config-file.js';
import { type RunningService, startService } from './service.js';

/** The scenario the demo plays. */
export const DEMO_SCENARIO = 'parallel-canaries-one-bad';

/** How the demo runs. */
export interface DemoOptions {
  readonly config: VigilConfig;
  readonly logger: Logger;
  readonly out: Writable;
  readonly color: boolean;
  /** Scenario time per wall time. */
  readonly speed: number;
  readonly seed: number;
  readonly signal?: AbortSignal;
}

/** What the demo ended with: the service (still running) and what it decided. */
export interface DemoResult {
  readonly service: RunningService;
  readonly verdicts: readonly VerdictView[];
  readonly incidents: readonly IncidentView[];
  readonly aborted: boolean;
}

/** Plays the demo; the service keeps running afterwards for the user to explore (close it when done). */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { out } = options;
  const entry = catalogEntry(DEMO_SCENARIO);
  if (!entry) throw new Error(`the demo scenario ${DEMO_SCENARIO} is missing from the catalog`);
  const rendered = renderScenario(entry, options.seed);
  const service = await startService({
    config: options.config,
    logger: options.logger,
    channels: new Map([['console', new ConsoleNotifier({ out, color: options.color })]]),
  });
  const url = service.url;
  const last = rendered.events[rendered.events.length - 1];
  const scenarioMin = last === undefined ? 0 : Math.round(last.emitMs / 60_000);
  out.write(
    `vigil demo: the service listens on ${url} (embedded, in-memory).\n\n` +
      'Release r311 of search-api goes out as three canaries, v311-eu, v311-us and v311-ap, beside\n' +
      'the stable v310 (six instances). About 11 minutes in, one canary starts answering with 5xx\n' +
      `errors. ${scenarioMin} minutes of this traffic (${rendered.events.length.toLocaleString('en-US')} events) now go through\n` +
      `POST ${url}/v1/events at ${options.speed}x. Watch for one page (the bad canary only), its FAIL\n` +
      'verdict, and PASS for the two good ones. Times below are event times.\n\n',
  );
  const summary = await streamEvents(rendered.events, {
    speed: options.speed,
    startMs: Date.now(),
    signal: options.signal,
    send: httpSender(url, { signal: options.signal }),
  });
  const [verdicts, incidents] = await Promise.all([
    getJson<{ verdicts: VerdictView[] }>(`${url}/v1/verdicts`),
    getJson<{ incidents: IncidentView[] }>(`${url}/v1/incidents?state=all`),
  ]);
  out.write(`vigil demo: ${summary.aborted ? 'stopped after' : 'sent'} ${summary.events.toLocaleString('en-US')} events in ${(summary.wallMs / 1000).toFixed(0)} s.\n\n`);
  out.write(outcome(verdicts.verdicts, incidents.incidents, url));
  return { service, verdicts: verdicts.verdicts, incidents: incidents.incidents, aborted: summary.aborted };
}

/** Reads one API answer, as any client would. */
async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The end of the demo: what was decided, and where to look next. */
function outcome(verdicts: readonly VerdictView[], incidents: readonly IncidentView[], url: string): string {
  const lines = ['What Vigil decided:'];
  for (const v of verdicts) lines.push(`  ${v.verdict.padEnd(4)}  ${v.service} ${v.version}: ${v.reasons[0] ?? ''}`);
  const pages = incidents.length;
  lines.push(`  ${pages} incident${pages === 1 ? '' : 's'}${pages > 0 ? `: ${incidents.map((i) => `${i.id} (${i.versions.join(', ')}, ${i.state})`).join('; ')}` : ''}`);
  lines.push(
    '',
    'Where to look next:',
    `  curl ${url}/v1/verdicts                  what a release tool reads (FAIL means roll back)`,
    `  curl ${url}/v1/verdicts/search-api/v311-us`,
    `  curl ${url}/v1/incidents                 the incident with its reasons, in numbers`,
    '  vigil simulate --list                   more scenarios; vigil simulate NAME --post URL streams one',
    '  vigil simulate NAME | vigil replay -    the same judge over a recorded stream, as fast as it goes',
    '  README.md                               how the judge decides, and the settings (vigil.example.yaml)',
    '',
  );
  return `${lines.join('\n')}\n`;
}
