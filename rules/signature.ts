/**
 * Error signatures: log messages with their variable parts masked, so that
 * "timeout after 2003ms for order 81234" and "timeout after 1998ms for order 99" are one error.
 */

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const HEX = /\b(?:0x)?[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b|\b(?:0x)?[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*\b/gi;
const LONG_HEX = /\b0x[0-9a-f]+\b/gi;
const EMAIL = /\b[\w.+-]+@[\w-]+\.[\w.-]+\b/g;
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g;
const QUOTED = /(["'`])(?:(?!\1)[^\\\n]|\\.){0,200}\1/g;
const NUMBER = /[-+]?\d+(?:[.,]\d+)*/g;
const SPACES = /\s+/g;

/** Longest signature kept; messages are cut before masking so a huge line costs little. */
const MAX_MESSAGE = 500;
const MAX_SIGNATURE = 160;

/**
 * The signature of an error message: ids, hex, numbers, addresses and quoted values masked,
 * whitespace collapsed, prefixed with the error type when there is one.
 */
export function errorSignature(message: string, errorType?: string): string {
  let s = message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE) : message;
  s = s
    .replace(UUID, '<id>')
    .replace(EMAIL, '<email>')
    .replace(IPV4, '<ip>')
    .replace(LONG_HEX, '<hex>')
    .replace(QUOTED, '$1…$1')
    .replace(HEX, (m) => (m.length >= 6 ? '<hex>' : m))
    .replace(NUMBER, '<n>')
    .replace(SPACES, ' ')
    .trim();
  if (s.length > MAX_SIGNATURE) s = s.slice(0, MAX_SIGNATURE) + '…';
  return errorType ? `${errorType}: ${s}` : s;
}

/** Route templates: numeric and id path segments masked, so /users/42 and /users/7 are one route. */
export function routeTemplate(route: string): string {
  if (route.length > 256) route = route.slice(0, 256);
  const q = route.indexOf('?');
  if (q >= 0) route = route.slice(0, q);
  if (!/\d/.test(route)) return route;
  return route
    .split('/')
    .map((seg) => (/^\d+$/.test(seg) || UUID_SEGMENT.test(seg) || (seg.length >= 8 && /\d/.test(seg) && /^[0-9a-zA-Z_-]+$/.test(seg) && /^[0-9a-f-]+$/i.test(seg)) ? ':id' : seg))
    .join('/');
}

const UUID_SEGMENT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
