/* global window, document, location, sessionStorage, fetch, setTimeout, clearTimeout, ResizeObserver, URLSearchParams, AbortSignal, Element */
/**
 * The dashboard's script: polls the JSON API and draws what on-call needs in one screen:
 * the judged versions, one release over time against its comparison, the incidents with the
 * alerts folded into them, what was kept quiet and the silences in force. Text from the API comes from events, so it only ever enters the page
 * as text nodes and attribute values, never as markup.
 */
import uPlot from './vendor/uPlot.esm.js';

const POLL_MS = 2_000;
const REQUEST_TIMEOUT_MS = 5_000;
const SUPPRESSED_SHOWN = 100;
const ALERTS_SHOWN = 10;
const CHART_HEIGHT_PX = 210;
const COLORS = { canary: '#e8590c', comparison: '#1971c2', fail: '#e03131', resolve: '#2f9e44' };
const VERDICTS = new Set(['PASS', 'FAIL', 'NONE']);
// Failing versions first: they are what someone is looking for when they open the page.
const VERDICT_ORDER = { FAIL: 0, NONE: 1, PASS: 2 };

const $ = (id) => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
};

/** What the page shows and what it last drew, so that unchanged data is not redrawn. */
const state = {
  /** The release the charts show: from the address, or the first failing one. */
  selected: undefined,
  /** Whether the user chose it (the address names it) or the page did. */
  chosen: false,
  route: '',
  verdicts: [],
  incidents: [],
  drawn: new Map(),
  charts: [],
  chartKey: '',
  marks: [],
};

/** A DOM element with properties and children; strings become text nodes. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'onClick') node.addEventListener('click', value);
    else node[key] = value;
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  return node;
}

// Event times are shown in UTC, as the API and the logs they come from have them.
const timeOfDay = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const dayAndTime = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const hourMinute = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const integer = new Intl.NumberFormat('en-US');

/** Labels of the time axis in UTC, as precise as the visible span needs. */
function timeTicks(u, splits) {
  const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
  const format = span > 2 * 86_400 ? dayAndTime : span < 300 ? timeOfDay : hourMinute;
  return splits.map((s) => format.format(s * 1000));
}

function formatTime(iso) {
  if (typeof iso !== 'string' && typeof iso !== 'number') return '—';
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(ms)) return '—';
  const sameDay = new Date(ms).toISOString().slice(0, 10) === new Date().toISOString().slice(0, 10);
  return sameDay ? timeOfDay.format(ms) : dayAndTime.format(ms);
}

function timeCell(iso) {
  return el('time', { dateTime: typeof iso === 'string' ? iso : '', title: typeof iso === 'string' ? iso : '' }, formatTime(iso));
}

function badge(text, kind) {
  return el('span', { className: `badge ${kind}` }, text);
}

function verdictBadge(verdict) {
  return badge(String(verdict), VERDICTS.has(verdict) ? `verdict-${verdict}` : 'verdict-other');
}

function releaseHash(service, version, route = '') {
  const params = new URLSearchParams({ service, version });
  if (route) params.set('route', route);
  return `#${params}`;
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const service = params.get('service');
  const version = params.get('version');
  if (!service || !version) return undefined;
  return { service, version, route: params.get('route') ?? '' };
}

function sameRelease(a, b) {
  return a !== undefined && b !== undefined && a.service === b.service && a.version === b.version;
}

/** Why a request to the API failed, worded for the status line. */
class ApiError extends Error {
  constructor(path, status, detail) {
    super(`${path}: HTTP ${status}${detail ? ` (${detail})` : ''}`);
    this.status = status;
  }
}

/** Thrown when the service wants its API token and the page has none (or a wrong one). */
class AuthError extends Error {}

// Kept for the tab only: a bearer token should not outlive the session it was typed into.
const TOKEN_KEY = 'vigil-api-token';

async function getJson(path, { allowNotFound = false } = {}) {
  const headers = { accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (res.status === 401) throw new AuthError(token ? 'the API token was refused' : 'the API needs a token');
  if (allowNotFound && res.status === 404) return undefined;
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new ApiError(path, res.status, typeof body.error === 'string' ? body.error : '');
  }
  return res.json();
}

/** True when `value` differs from what was drawn under `key` last time (and remembers it). */
function changed(key, value) {
  const text = JSON.stringify(value);
  if (state.drawn.get(key) === text) return false;
  state.drawn.set(key, text);
  return true;
}

// ---- releases -------------------------------------------------------------------------

function renderVerdicts(verdicts) {
  const rows = [...verdicts].sort((a, b) => (VERDICT_ORDER[a.verdict] ?? 3) - (VERDICT_ORDER[b.verdict] ?? 3));
  $('release-rows').replaceChildren(...rows.map(verdictRow));
  $('releases-empty').hidden = rows.length > 0;
}

function verdictRow(v) {
  const e = v.evidence;
  const href = releaseHash(v.service, v.version);
  const row = el('tr', {
    className: sameRelease(v, state.selected) ? 'selected' : '',
    dataset: { service: v.service, version: v.version, verdict: String(v.verdict) },
    onClick: (event) => {
      if (event.target instanceof Element && event.target.closest('a')) return;
      location.hash = href;
    },
  },
  el('td', {}, verdictBadge(v.verdict)),
  el('td', {}, v.service),
  el('td', {}, el('a', { href, title: `Charts of ${v.service} ${v.version}` }, v.version)),
  el('td', {}, v.release ?? '—'),
  el('td', {}, e?.comparedWith ?? '—'),
  el('td', { className: 'reason', title: (v.reasons ?? []).join('\n') }, v.reasons?.[0] ?? ''),
  el('td', { className: 'evidence' }, e
    ? [
      el('span', {}, `${integer.format(e.canaryRequests)} vs ${integer.format(e.baselineRequests)} requests`),
      el('span', { className: 'meta' }, `${formatTime(e.windowStart)}–${formatTime(e.windowEnd)}${typeof v.score === 'number' ? ` · score ${v.score}` : ''}`),
    ]
    : '—'),
  el('td', {}, timeCell(v.since)));
  return row;
}

function markSelectedRow() {
  for (const row of $('release-rows').children) {
    row.classList.toggle('selected', sameRelease({ service: row.dataset.service, version: row.dataset.version }, state.selected));
  }
}

/** The release to chart: the one in the address, else one the page picked (a failing one first). */
function pickSelection() {
  const fromHash = readHash();
  if (fromHash) {
    state.selected = { service: fromHash.service, version: fromHash.version };
    state.route = fromHash.route;
    state.chosen = true;
    return;
  }
  if (state.chosen) {
    state.selected = undefined;
    state.chosen = false;
  }
  const stillThere = state.verdicts.some((v) => sameRelease(v, state.selected));
  if (!stillThere) {
    const first = state.verdicts.find((v) => v.verdict === 'FAIL') ?? state.verdicts[0];
    state.selected = first ? { service: first.service, version: first.version } : undefined;
    state.route = '';
  }
}

// ---- one release over time ------------------------------------------------------------

async function refreshDetail() {
  const section = $('release-detail');
  const selected = state.selected;
  if (!selected) {
    section.hidden = true;
    destroyCharts();
    return;
  }
  const base = `${encodeURIComponent(selected.service)}/${encodeURIComponent(selected.version)}`;
  const query = state.route ? `?route=${encodeURIComponent(state.route)}` : '';
  const [series, history] = await Promise.all([
    getJson(`v1/releases/${base}/series${query}`, { allowNotFound: true }),
    getJson(`v1/verdicts/${base}/history`),
  ]);
  if (!sameRelease(selected, state.selected)) return;
  section.hidden = false;
  const verdict = state.verdicts.find((v) => sameRelease(v, selected));
  const comparedWith = series?.comparedWith ?? verdict?.evidence?.comparedWith;
  $('detail-title').replaceChildren(
    verdict ? verdictBadge(verdict.verdict) : '', ' ',
    `${selected.service} ${selected.version}`,
    comparedWith ? el('span', { className: 'muted' }, ` vs ${comparedWith}`) : '',
    verdict?.release ? el('span', { className: 'muted' }, ` · release ${verdict.release}`) : '',
  );
  $('detail-reason').replaceChildren(...(verdict?.reasons ?? []).map((r) => el('span', {}, r)));
  section.dataset.release = `${selected.service}/${selected.version}`;

  const marks = marksOf(selected, history?.verdicts ?? [], state.incidents);
  const marksChanged = changed('marks', marks);
  state.marks = marks;
  if (marksChanged) renderMarks(marks);

  if (!series) {
    destroyCharts();
    state.drawn.delete('series');
    section.dataset.points = '0';
    $('route').replaceChildren();
    $('chart-meta').textContent = '';
    const missing = $('detail-missing');
    missing.hidden = false;
    missing.textContent = `${selected.service} ${selected.version} is not being judged now (or its windows are gone), so there is nothing to chart.`;
    return;
  }
  $('detail-missing').hidden = true;
  renderRoutes(series.routes ?? [], selected);
  const key = `${selected.service}\n${selected.version}\n${state.route}`;
  const data = chartData(series.points ?? []);
  if (key !== state.chartKey || state.charts.length === 0) {
    createCharts(series, selected, data);
    state.chartKey = key;
    state.drawn.set('series', JSON.stringify(series));
  } else if (changed('series', series)) {
    for (const [i, chart] of state.charts.entries()) chart.setData([data.x, ...data.panels[i]]);
  } else if (marksChanged) {
    for (const chart of state.charts) chart.redraw(false, false);
  }
  const points = series.points ?? [];
  section.dataset.points = String(points.length);
  const first = points[0];
  const last = points[points.length - 1];
  $('chart-meta').textContent = first && last
    ? `${points.length} points of ${series.sliceMs / 1000} s · ${formatTime(first.t)}–${formatTime(last.t)} UTC · ${state.route || 'all routes'}`
    : `no closed slice yet · ${state.route || 'all routes'}`;
}

/** Moments to mark on the charts: each turn to FAIL, and each end of an incident naming the version. */
function marksOf(selected, history, incidents) {
  const marks = [];
  let previous;
  for (const v of history) {
    if (v.verdict === 'FAIL' && previous !== 'FAIL') marks.push({ t: Date.parse(v.since), label: 'FAIL', kind: 'fail', detail: v.reasons?.[0] ?? '' });
    previous = v.verdict;
  }
  for (const i of incidents) {
    if (i.service !== selected.service || !(i.versions ?? []).includes(selected.version) || !i.resolvedAt) continue;
    const rolledBack = typeof i.resolution === 'string' && /rolled back|rollback/i.test(i.resolution);
    marks.push({ t: Date.parse(i.resolvedAt), label: rolledBack ? 'rolled back' : 'resolved', kind: 'resolve', detail: i.resolution ?? '' });
  }
  return marks.filter((m) => Number.isFinite(m.t)).sort((a, b) => a.t - b.t);
}

function renderMarks(marks) {
  $('marks').replaceChildren(...marks.map((m) => el('li', { className: `mark mark-${m.kind}` },
    el('span', { className: 'swatch' }), el('strong', {}, m.label), ' at ', timeCell(new Date(m.t).toISOString()),
    m.detail ? el('span', { className: 'muted' }, `: ${m.detail}`) : '')));
}

function renderRoutes(routes, selected) {
  const select = $('route');
  const wanted = ['', ...routes];
  if (state.route && !wanted.includes(state.route)) wanted.push(state.route);
  if (changed('routes', wanted)) {
    select.replaceChildren(...wanted.map((r) => el('option', { value: r }, r === '' ? 'all routes' : r)));
  }
  select.value = state.route;
  select.onchange = () => {
    location.hash = releaseHash(selected.service, selected.version, select.value);
  };
}

function ratioPercent(side) {
  return side && side.requests > 0 ? (side.errors / side.requests) * 100 : null;
}

/** Columns for the three charts: time in seconds, then canary and comparison per chart. */
function chartData(points) {
  const x = points.map((p) => Date.parse(p.t) / 1000);
  const col = (f) => [points.map((p) => f(p.canary)), points.map((p) => f(p.comparison))];
  return {
    x,
    panels: [col(ratioPercent), col((s) => s?.p50 ?? null), col((s) => s?.p99 ?? null)],
  };
}

const PANELS = [
  { id: 'chart-errors', unit: '%', format: (v) => `${v.toFixed(v < 10 ? 2 : 1)}%`, axis: (v) => `${+v.toFixed(2)}%` },
  { id: 'chart-p50', unit: 'ms', format: (v) => `${v.toFixed(1)} ms`, axis: (v) => `${+v.toFixed(1)} ms` },
  { id: 'chart-p99', unit: 'ms', format: (v) => `${v.toFixed(1)} ms`, axis: (v) => `${+v.toFixed(1)} ms` },
];

function createCharts(series, selected, data) {
  destroyCharts();
  const sync = uPlot.sync('release');
  PANELS.forEach((panel, i) => {
    const target = $(panel.id).querySelector('.plot');
    target.replaceChildren();
    const opts = {
      width: plotWidth(target),
      height: CHART_HEIGHT_PX,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      cursor: { sync: { key: sync.key } },
      scales: {
        x: { time: true, range: (_u, min, max) => xRange(min, max) },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      series: [
        { label: 'UTC', value: legendValue((ts) => timeOfDay.format(ts * 1000)) },
        { label: `${selected.version} (canary)`, stroke: COLORS.canary, width: 2, value: legendValue(panel.format) },
        { label: `${series.comparedWith} (comparison)`, stroke: COLORS.comparison, width: 1.5, value: legendValue(panel.format) },
      ],
      axes: [{ values: timeTicks }, { size: 64, values: (_u, splits) => splits.map(panel.axis) }],
      hooks: { draw: [drawMarks] },
    };
    state.charts.push(new uPlot(opts, [data.x, ...data.panels[i]], target));
  });
}

/** A legend value: at the cursor, or the latest slice's when the cursor is elsewhere. */
function legendValue(format) {
  return (u, value, seriesIdx, idx) => {
    let shown = value;
    if (idx == null) {
      const column = u.data[seriesIdx] ?? [];
      for (let i = column.length - 1; i >= 0 && shown == null; i--) shown = column[i];
    }
    return shown == null ? '—' : format(shown);
  };
}

/** The time range: the data's, widened to show every mark. */
function xRange(min, max) {
  let lo = min;
  let hi = max;
  for (const m of state.marks) {
    lo = Math.min(lo, m.t / 1000);
    hi = Math.max(hi, m.t / 1000);
  }
  return lo === hi ? [lo - 60, hi + 60] : [lo, hi];
}

function drawMarks(u) {
  const { ctx, bbox } = u;
  const px = uPlot.pxRatio;
  // Labels alternate between two rows, so that marks close in time (a FAIL and its rollback
  // a few minutes later) do not write over each other.
  state.marks.forEach((m, n) => {
    const x = Math.round(u.valToPos(m.t / 1000, 'x', true));
    if (x < bbox.left || x > bbox.left + bbox.width) return;
    const color = m.kind === 'fail' ? COLORS.fail : COLORS.resolve;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5 * px;
    ctx.setLineDash([5 * px, 4 * px]);
    ctx.beginPath();
    ctx.moveTo(x, bbox.top);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.font = `600 ${11 * px}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    const width = ctx.measureText(m.label).width;
    const fits = x + 4 * px + width <= bbox.left + bbox.width;
    ctx.fillText(m.label, fits ? x + 4 * px : x - 4 * px - width, bbox.top + (4 + (n % 2) * 14) * px);
    ctx.restore();
  });
}

function plotWidth(target) {
  return Math.max(240, Math.floor(target.getBoundingClientRect().width));
}

function destroyCharts() {
  for (const chart of state.charts) chart.destroy();
  state.charts = [];
  state.chartKey = '';
}

const resizing = new ResizeObserver(() => {
  PANELS.forEach((panel, i) => {
    const chart = state.charts[i];
    if (!chart) return;
    const width = plotWidth($(panel.id).querySelector('.plot'));
    if (width !== chart.width) chart.setSize({ width, height: CHART_HEIGHT_PX });
  });
});

// ---- incidents and what did not page ---------------------------------------------------

function renderIncidents(incidents) {
  $('incident-list').replaceChildren(...incidents.map(incidentCard));
  $('incidents-empty').hidden = incidents.length > 0;
}

function incidentCard(i) {
  const open = i.state === 'open';
  const versions = (i.versions ?? []).map((v, n) => [n > 0 ? ', ' : '', el('a', { href: releaseHash(i.service, v), title: `Charts of ${i.service} ${v}` }, v)]);
  const facts = [
    ['opened', timeCell(i.openedAt)],
    ['updated', [timeCell(i.updatedAt), i.updates > 0 ? ` (${i.updates} update${i.updates === 1 ? '' : 's'})` : '']],
    i.latest ? ['latest', i.latest] : undefined,
    i.resolvedAt ? ['resolved', [timeCell(i.resolvedAt), i.resolution ? `: ${i.resolution}` : '']] : undefined,
    ['signals', (i.signals ?? []).join(', ') || '—'],
    ['paged', (i.channels ?? []).join(', ') || '—'],
    ['id', el('code', {}, i.id)],
  ].filter(Boolean);
  const alerts = i.alerts ?? [];
  const quiet = i.suppressed ?? [];
  return el('article', { className: `incident ${open ? 'is-open' : 'is-resolved'}`, dataset: { incident: i.id } },
    el('header', {},
      badge(open ? 'OPEN' : 'resolved', open ? 'state-open' : 'state-resolved'), ' ',
      badge(String(i.severity), `severity ${['critical', 'warning', 'info'].includes(i.severity) ? `severity-${i.severity}` : ''}`), ' ',
      el('strong', {}, i.service), ' ', versions,
      i.release ? el('span', { className: 'muted' }, ` · release ${i.release}`) : ''),
    el('p', { className: 'summary' }, i.summary),
    (i.reasons ?? []).length > 0 ? el('ul', { className: 'reasons' }, i.reasons.map((r) => el('li', {}, r))) : '',
    el('dl', { className: 'facts' }, facts.map(([term, value]) => [el('dt', {}, term), el('dd', {}, value)])),
    alerts.length > 0 ? foldedAlerts(alerts) : '',
    quiet.length > 0 ? keptQuiet(quiet) : '');
}

/** The monitoring-system alerts an incident took in as evidence, counted per source. */
function foldedAlerts(alerts) {
  const bySource = new Map();
  for (const a of alerts) bySource.set(a.source, (bySource.get(a.source) ?? 0) + 1);
  const counts = [...bySource].map(([source, n]) => `${integer.format(n)} from ${source}`).join(', ');
  const shown = alerts.slice(-ALERTS_SHOWN).reverse();
  return el('details', { className: 'folded' },
    el('summary', {}, `${integer.format(alerts.length)} alert${alerts.length === 1 ? '' : 's'} folded in (${counts})`),
    el('ul', { className: 'alerts' }, shown.map((a) => el('li', { dataset: { fingerprint: a.fingerprint } },
      badge(a.status === 'resolved' ? 'resolved' : 'firing', a.status === 'resolved' ? 'state-resolved' : 'state-open'), ' ',
      el('strong', {}, a.name), el('span', { className: 'muted' }, ` · ${a.source}`),
      a.instance ? el('span', { className: 'muted' }, ` · ${a.instance}`) : '',
      a.version ? el('span', { className: 'muted' }, ` · ${a.version}`) : ''))),
    alerts.length > shown.length ? el('p', { className: 'meta' }, `${alerts.length - shown.length} earlier alerts not shown.`) : '');
}

/** What the incident kept from paging again (duplicates, silenced or flapping alerts), by reason. */
function keptQuiet(records) {
  const byWhy = new Map();
  for (const r of records) byWhy.set(r.why, (byWhy.get(r.why) ?? 0) + 1);
  return el('p', { className: 'meta kept-quiet' }, 'Not paged again: ',
    [...byWhy].map(([why, n], k) => [k > 0 ? ', ' : '', badge(String(why), SUPPRESSION_REASONS.has(why) ? `why why-${why}` : 'why'), ` ${integer.format(n)}`]));
}

// ---- silences ------------------------------------------------------------------------

function renderSilences(silences) {
  $('silence-rows').replaceChildren(...silences.map((s) => el('tr', { dataset: { silence: s.id } },
    el('td', {}, (s.matchers ?? []).map((m) => el('code', { className: 'matcher' }, m))),
    el('td', {}, timeCell(s.endsAt)),
    el('td', {}, s.createdBy || '—', s.comment ? el('span', { className: 'muted block' }, s.comment) : ''))));
  $('silences-empty').hidden = silences.length > 0;
}

const SUPPRESSION_REASONS = new Set(['duplicate', 'inhibited', 'silenced', 'flapping', 'transient', 'fleet-wide', 'unattributed', 'maintenance']);

function renderSuppressed(records) {
  const newest = [...records].reverse();
  const shown = newest.slice(0, SUPPRESSED_SHOWN);
  $('suppressed-rows').replaceChildren(...shown.map((s) => el('tr', {},
    el('td', {}, timeCell(s.ts)),
    el('td', {}, badge(String(s.why), SUPPRESSION_REASONS.has(s.why) ? `why why-${s.why}` : 'why')),
    el('td', {}, s.service ?? '—', (s.versions ?? []).length > 0 ? el('span', { className: 'muted' }, ` ${s.versions.join(', ')}`) : ''),
    el('td', {}, el('span', {}, s.what), s.detail ? el('span', { className: 'muted block' }, s.detail) : ''))));
  $('suppressed-empty').hidden = records.length > 0;
  const more = $('suppressed-more');
  more.hidden = newest.length <= shown.length;
  more.textContent = `${newest.length - shown.length} older records not shown.`;
}

function renderNotifications(n) {
  const s = n.stats ?? {};
  const failed = n.failed ?? [];
  const last = failed[failed.length - 1];
  $('notifications').replaceChildren(
    'Notifications: ',
    `${integer.format(s.delivered ?? 0)} delivered · `,
    el('span', { className: s.failed > 0 ? 'warn' : '' }, `${integer.format(s.failed ?? 0)} failed`),
    ` · ${integer.format(s.retried ?? 0)} retried`,
    s.unknownChannel > 0 ? el('span', { className: 'warn' }, ` · ${integer.format(s.unknownChannel)} for channels with no notifier configured`) : '',
    last ? el('span', { className: 'warn' }, ` · last failure: ${last.channel} ${last.decision} (${last.reason})`) : '');
}

// ---- polling -------------------------------------------------------------------------

function setStatus(text, ok) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', !ok);
}

let timer;
let inFlight = false;
let again = false;

/** Fetches everything and redraws what changed; one poll at a time, the next 2 s after. */
async function poll() {
  clearTimeout(timer);
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  try {
    if (!document.hidden) {
      const [verdicts, incidents, suppressed, notifications, silences] = await Promise.all([
        getJson('v1/verdicts'), getJson('v1/incidents?state=all'), getJson('v1/suppressed'), getJson('v1/notifications'), getJson('v1/silences'),
      ]);
      state.verdicts = verdicts.verdicts ?? [];
      state.incidents = incidents.incidents ?? [];
      const before = state.selected;
      pickSelection();
      if (changed('verdicts', state.verdicts)) renderVerdicts(state.verdicts);
      else if (!sameRelease(before, state.selected)) markSelectedRow();
      if (changed('incidents', state.incidents)) renderIncidents(state.incidents);
      if (changed('suppressed', suppressed.suppressed ?? [])) renderSuppressed(suppressed.suppressed ?? []);
      if (changed('notifications', notifications)) renderNotifications(notifications);
      if (changed('silences', silences.silences ?? [])) renderSilences(silences.silences ?? []);
      await refreshDetail();
      setStatus(`live · updated ${timeOfDay.format(Date.now())} UTC`, true);
      $('auth').hidden = true;
    }
  } catch (err) {
    if (err instanceof AuthError) {
      $('auth').hidden = false;
      setStatus(`${err.message}: enter it below`, false);
    } else {
      const why = err instanceof ApiError ? err.message : 'the service did not answer';
      setStatus(`cannot reach the API (${why}); retrying every ${POLL_MS / 1000} s`, false);
    }
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      timer = setTimeout(poll, 0);
    } else {
      timer = setTimeout(poll, POLL_MS);
    }
  }
}

$('auth-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('auth-token');
  if (input.value.trim() !== '') sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = '';
  void poll();
});
window.addEventListener('hashchange', () => void poll());
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void poll();
});
resizing.observe($('release-detail'));
void poll();
