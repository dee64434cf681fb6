/**
 * The dashboard: a static page in `web/` that reads the same JSON API as release tools do,
 * served at `/` by the running service, with the chart library's browser build taken from
 * node_modules so that the repository runs as it is after `npm ci`, with no build step.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** One file the dashboard serves, read once at start. */
interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

/** URL paths of the dashboard's files; nothing outside this list is ever read. */
const WEB_FILES: readonly { readonly url: string; readonly file: string; readonly contentType: string }[] = [
  { url: '/', file: 'index.html', contentType: 'text/html; charset=utf-8' },
  { url: '/ui/app.js', file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  { url: '/ui/style.css', file: 'style.css', contentType: 'text/css; charset=utf-8' },
  { url: '/ui/favicon.svg', file: 'favicon.svg', contentType: 'image/svg+xml' },
];

/** The chart library's files, by URL path and module path as node resolves it. */
const VENDOR_FILES: readonly { readonly url: string; readonly module: string; readonly contentType: string }[] = [
  { url: '/ui/vendor/uPlot.esm.js', module: 'uplot/dist/uPlot.esm.js', contentType: 'text/javascript; charset=utf-8' },
  { url: '/ui/vendor/uPlot.min.css', module: 'uplot/dist/uPlot.min.css', contentType: 'text/css; charset=utf-8' },
];

/**
 * URL paths of the dashboard's own files: they hold no data (the page reads the API with the
 * token the user gives it), so an API token check may let these through for browsers.
 */
export const DASHBOARD_PATHS: ReadonlySet<string> = new Set([...WEB_FILES, ...VENDOR_FILES].map((f) => f.url));

// The page talks only to its own origin and draws on canvas; the chart library sets styles
// through the DOM, which this policy allows, and nothing inline is needed.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

/** Serves the dashboard on `app`: the page at `/`, its assets under `/ui/`. */
export function registerDashboard(app: FastifyInstance): void {
  const webDir = findWebDir();
  const require = createRequire(import.meta.url);
  const assets = new Map<string, Asset>();
  for (const f of WEB_FILES) assets.set(f.url, asset(readFileSync(join(webDir, f.file)), f.contentType));
  for (const f of VENDOR_FILES) assets.set(f.url, asset(readFileSync(require.resolve(f.module)), f.contentType));

  for (const [url, a] of assets) {
    app.get(url, async (req: FastifyRequest, reply: FastifyReply) => {
      // Revalidated on every load: a restarted service with new files is seen at once, and
      // an unchanged file costs a 304.
      reply
        .header('cache-control', 'no-cache')
        .header('etag', a.etag)
        .header('x-content-type-options', 'nosniff')
        .type(a.contentType);
      if (url === '/') reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('referrer-policy', 'no-referrer');
      if (matches(req.headers['if-none-match'], a.etag)) return reply.code(304).send();
      return reply.send(a.body);
    });
  }
}

function asset(body: Buffer, contentType: string): Asset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** Whether an If-None-Match header names `etag` (weak or strong, alone or in a list). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** `web/` beside `app/` in the repository, whether this module runs from `app/` or from `dist/app/`. */
function findWebDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'web'), join(here, '..', '..', 'web')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (found === undefined) throw new Error(`dashboard files not found (looked for index.html in ${candidates.join(' and ')})`);
  return found;
}
