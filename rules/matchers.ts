/**
 * Label matchers in Alertmanager's notation (`name="value"`, `name!="value"`, `name=~"re"`,
 * `name!~"re"`), shared by silences, inhibition rules and maintenance windows. Regular
 * expressions are anchored at both ends, as Alertmanager anchors them.
 */
import { z } from 'zod';
import type { Labels } from './events.js';

/** How a matcher compares a label's value. */
export type MatchOp = '=' | '!=' | '=~' | '!~';

/** One label matcher; a missing label matches as the empty string. */
export interface Matcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}

/** A compiled matcher: the regular expression built once. */
interface CompiledMatcher extends Matcher {
  readonly re: RegExp | undefined;
}

const MATCHER_TEXT = /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s]*))\s*$/;

/** Reads one matcher from its text form; throws with the reason when the text is not one. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER_TEXT.exec(text);
  if (!m) throw new Error(`not a label matcher: ${JSON.stringify(text)} (expected name="value", name!="value", name=~"regex" or name!~"regex")`);
  const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : (m[4] ?? '');
  const matcher: Matcher = { name: m[1] as string, op: m[2] as MatchOp, value };
  if (matcher.op === '=~' || matcher.op === '!~') {
    try {
      new RegExp(`^(?:${value})$`);
    } catch (err) {
      throw new Error(`matcher ${JSON.stringify(text)} has a bad regular expression`, { cause: err });
    }
  }
  return matcher;
}

/** Config form of a matcher list: texts like `service="checkout"`, each checked with its reason. */
export const matchersSchema = z.array(z.string()).min(1).transform((texts, ctx): Matcher[] => {
  const out: Matcher[] = [];
  for (const [i, t] of texts.entries()) {
    try {
      out.push(parseMatcher(t));
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err), path: [i] });
    }
  }
  return out;
});

const compiled = new WeakMap<readonly Matcher[], readonly CompiledMatcher[]>();

function compile(matchers: readonly Matcher[]): readonly CompiledMatcher[] {
  let c = compiled.get(matchers);
  if (!c) {
    c = matchers.map((m) => ({ ...m, re: m.op === '=~' || m.op === '!~' ? new RegExp(`^(?:${m.value})$`) : undefined }));
    compiled.set(matchers, c);
  }
  return c;
}

/** Whether every matcher holds for the labels (an empty list matches everything). */
export function matchesAll(matchers: readonly Matcher[], labels: Labels): boolean {
  for (const m of compile(matchers)) {
    const v = labels[m.name] ?? '';
    switch (m.op) {
      case '=': if (v !== m.value) return false; break;
      case '!=': if (v === m.value) return false; break;
      case '=~': if (!(m.re as RegExp).test(v)) return false; break;
      case '!~': if ((m.re as RegExp).test(v)) return false; break;
    }
  }
  return true;
}

/** The text form of a matcher, as the API shows it. */
export function matcherText(m: Matcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}
