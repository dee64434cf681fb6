/**
 * Log message templates. Real error lines carry numbers, ids and addresses that change on
 * every occurrence; a template marks those parts so that each rendered line differs while
 * the underlying error stays the same, which is exactly what an engine must normalise.
 *
 * Placeholders: `{int:MIN:MAX}`, `{hex:LEN}`, `{uuid}`, `{ip}`, `{pick:a|b|c}`.
 */
import type { Rng } from './random.js';

type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'int'; readonly min: number; readonly max: number }
  | { readonly kind: 'hex'; readonly length: number }
  | { readonly kind: 'uuid' }
  | { readonly kind: 'ip' }
  | { readonly kind: 'pick'; readonly choices: readonly string[] };

/** A parsed message template, ready to render many times. */
export interface MessageTemplate {
  readonly source: string;
  readonly parts: readonly Part[];
}

const PLACEHOLDER = /\{([a-z]+)(?::([^}]*))?\}/g;

/** Parses a template; throws on an unknown placeholder, since templates are written in code. */
export function compileTemplate(source: string): MessageTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const at = m.index;
    if (at > last) parts.push({ kind: 'text', text: source.slice(last, at) });
    last = at + m[0].length;
    const kind = m[1];
    const arg = m[2] ?? '';
    switch (kind) {
      case 'int': {
        const [min, max] = arg.split(':').map(Number);
        if (min === undefined || max === undefined || !(max >= min)) throw new Error(`bad {int} in template: ${source}`);
        parts.push({ kind: 'int', min, max });
        break;
      }
      case 'hex':
        parts.push({ kind: 'hex', length: Number(arg) || 8 });
        break;
      case 'uuid':
        parts.push({ kind: 'uuid' });
        break;
      case 'ip':
        parts.push({ kind: 'ip' });
        break;
      case 'pick':
        parts.push({ kind: 'pick', choices: arg.split('|') });
        break;
      default:
        throw new Error(`unknown placeholder {${kind ?? ''}} in template: ${source}`);
    }
  }
  if (last < source.length) parts.push({ kind: 'text', text: source.slice(last) });
  return { source, parts };
}

function hex(rng: Rng, length: number): string {
  let out = '';
  while (out.length < length) out += rng.uint32().toString(16).padStart(8, '0');
  return out.slice(0, length);
}

/** Renders one occurrence of a template. */
export function renderTemplate(template: MessageTemplate, rng: Rng): string {
  let out = '';
  for (const p of template.parts) {
    switch (p.kind) {
      case 'text':
        out += p.text;
        break;
      case 'int':
        out += String(p.min + rng.int(p.max - p.min + 1));
        break;
      case 'hex':
        out += hex(rng, p.length);
        break;
      case 'uuid': {
        const h = hex(rng, 32);
        out += `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
        break;
      }
      case 'ip':
        out += `10.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`;
        break;
      case 'pick':
        out += rng.pick(p.choices);
        break;
    }
  }
  return out;
}
