/**
 * Where silences made through the API are kept: in memory for one process, in Redis for
 * instances that share the work (one hash per prefix, each entry the silence as JSON; an
 * entry past its end is dropped when read). Both pass the contract suite in silences.test.ts.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Silence, SilenceStore } from '../rules/silences.js';
import { parseMatcher } from '../rules/matchers.js';

/** Silences of one process. */
export class MemorySilenceStore implements SilenceStore {
  private readonly byId = new Map<string, Silence>();

  list(nowMs: number): Promise<readonly Silence[]> {
    for (const [id, s] of this.byId) if (s.endsAt <= nowMs) this.byId.delete(id);
    return Promise.resolve([...this.byId.values()].sort(byId));
  }

  put(silence: Silence): Promise<void> {
    this.byId.set(silence.id, silence);
    return Promise.resolve();
  }

  remove(id: string): Promise<boolean> {
    return Promise.resolve(this.byId.delete(id));
  }
}

const storedSchema = z.strictObject({
  id: z.string(),
  matchers: z.array(z.strictObject({ name: z.string(), op: z.enum(['=', '!=', '=~', '!~']), value: z.string() })),
  startsAt: z.number(),
  endsAt: z.number(),
  createdBy: z.string(),
  comment: z.string(),
});

/** Silences in Redis, shared by every instance using the same prefix. */
export class RedisSilenceStore implements SilenceStore {
  constructor(private readonly redis: Redis, private readonly prefix = 'vigil:') {}

  private get key(): string {
    return `${this.prefix}silences`;
  }

  async list(nowMs: number): Promise<readonly Silence[]> {
    const all = await this.redis.hgetall(this.key);
    const out: Silence[] = [];
    const expired: string[] = [];
    for (const [id, text] of Object.entries(all)) {
      const s = parseStored(text);
      // An entry no reader can use (damaged, or written by a later format) is skipped, not fatal to the others.
      if (!s) continue;
      if (s.endsAt <= nowMs) expired.push(id);
      else out.push(s);
    }
    if (expired.length > 0) await this.redis.hdel(this.key, ...expired);
    return out.sort(byId);
  }

  async put(silence: Silence): Promise<void> {
    await this.redis.hset(this.key, silence.id, JSON.stringify({ ...silence, startsAt: Number.isFinite(silence.startsAt) ? silence.startsAt : 0 }));
  }

  async remove(id: string): Promise<boolean> {
    return (await this.redis.hdel(this.key, id)) > 0;
  }
}

function parseStored(text: string): Silence | undefined {
  try {
    const p = storedSchema.safeParse(JSON.parse(text));
    if (!p.success) return undefined;
    // Matchers are checked again, so that a bad regular expression never reaches the engine.
    for (const m of p.data.matchers) parseMatcher(`${m.name}${m.op}${JSON.stringify(m.value)}`);
    return p.data;
  } catch {
    return undefined;
  }
}

function byId(a: Silence, b: Silence): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
