/**
 * Production-like traffic for the benches: catalog scenarios side by side, each a copy with
 * its services, instances and releases renamed apart and started a fixed time after the
 * previous one, so that event time only moves forward per service however many are merged.
 */
import { CATALOG, catalogEntry } from '../simulate/catalog.js';
import { generate, type WireEvent } from '../simulate/generate.js';

/** One scenario copy: its name as shown, and its events with their emission offsets. */
export interface ScenarioCopy {
  /** `NAME-seedS as K`: the scenario, its seed, and the copy's suffix number. */
  readonly id: string;
  readonly events: readonly { readonly emitMs: number; readonly event: WireEvent }[];
}

/**
 * The `index`-th copy of a mix: scenario `mix[index % mix.length]`, a seed that grows as the
 * mix repeats, started `index * staggerMs` after `baseEpochMs`, names suffixed `-(index + 1)`.
 */
export function scenarioCopy(mix: readonly string[], index: number, staggerMs: number, baseEpochMs: number): ScenarioCopy {
  const name = mix[index % mix.length] as string;
  const seed = 1 + Math.floor(index / mix.length);
  const entry = catalogEntry(name);
  if (entry === undefined) throw new Error(`scenario ${name} is not in the catalog (${CATALOG.map((e) => e.name).join(', ')})`);
  const offsetMs = index * staggerMs;
  const suffix = `-${index + 1}`;
  const events = generate(entry.build(seed).spec).map((t) => ({
    emitMs: offsetMs + t.emitMs,
    event: renamed(t.event, new Date(baseEpochMs + offsetMs + t.tsMs).toISOString(), suffix),
  }));
  return { id: `${name}-seed${seed} as ${suffix.slice(1)}`, events };
}

/** Gives a scenario's services, instances and releases names of their own, so that scenarios never share a service. */
function renamed(e: WireEvent, ts: string, suffix: string): WireEvent {
  const instanceOf = (service: string, instance: string): string =>
    instance.startsWith(`${service}-`) ? `${service}${suffix}${instance.slice(service.length)}` : `${instance}${suffix}`;
  switch (e.type) {
    case 'request':
    case 'log':
    case 'metric':
      return { ...e, ts, service: `${e.service}${suffix}`, instance: instanceOf(e.service, e.instance) };
    case 'deploy': {
      const instances = e.instances.map((i) => instanceOf(e.service, i));
      const service = `${e.service}${suffix}`;
      return e.release === undefined ? { ...e, ts, service, instances } : { ...e, ts, service, instances, release: `${e.release}${suffix}` };
    }
    case 'webhook':
      // The engine only counts webhooks; their bodies keep the scenario's own names.
      return { ...e, ts };
  }
}
