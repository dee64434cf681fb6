/**
 * Line charts as SVG text for the results page: categorical x positions equally spaced
 * (the traffic levels are a factor of four apart, so this is a log scale), one line per
 * series, a missing or infinite value a gap in its line. No browser or library needed.
 */

/** One line of a chart. */
export interface ChartSeries {
  readonly name: string;
  /** One value per x position; undefined or Infinity leaves a gap. */
  readonly values: readonly (number | undefined)[];
}

/** What a chart shows. */
export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xTicks: readonly string[];
  readonly yMax: number;
  readonly yStep: number;
  readonly series: readonly ChartSeries[];
  /** A dashed horizontal line, such as a target. */
  readonly guide?: { readonly y: number; readonly label: string };
  /** A note under the plot. */
  readonly note?: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const WIDTH = 640;
const HEIGHT = 380;
const LEFT = 64;
const RIGHT = 170;
const TOP = 40;
const BOTTOM = 70;

/** Escapes text for SVG. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Renders a line chart as a standalone SVG document. */
export function lineChartSvg(c: LineChart): string {
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const x = (i: number): number => LEFT + (c.xTicks.length === 1 ? plotW / 2 : (i * plotW) / (c.xTicks.length - 1));
  const y = (v: number): number => TOP + plotH - (Math.min(v, c.yMax) / c.yMax) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`,
  ];
  for (let v = 0; v <= c.yMax + 1e-9; v += c.yStep) {
    parts.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(String(Math.round(v * 100) / 100))}</text>`);
  }
  c.xTicks.forEach((t, i) => {
    parts.push(`<line x1="${x(i).toFixed(1)}" x2="${x(i).toFixed(1)}" y1="${TOP}" y2="${TOP + plotH}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${x(i).toFixed(1)}" y="${TOP + plotH + 18}" text-anchor="middle">${esc(t)}</text>`);
  });
  parts.push(`<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${TOP + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${TOP + plotH}" y2="${TOP + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${LEFT + plotW / 2}" y="${TOP + plotH + 40}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  parts.push(`<text transform="translate(18 ${TOP + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  if (c.guide !== undefined) {
    parts.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(c.guide.y).toFixed(1)}" y2="${y(c.guide.y).toFixed(1)}" stroke="#555" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${LEFT + plotW - 4}" y="${(y(c.guide.y) - 5).toFixed(1)}" text-anchor="end" fill="#555">${esc(c.guide.label)}</text>`);
  }
  c.series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length] as string;
    let segment: string[] = [];
    const flush = (): void => {
      if (segment.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${segment.join(' ')}"/>`);
      segment = [];
    };
    s.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v)) {
        flush();
        return;
      }
      const p = `${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      segment.push(p);
      parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.5" fill="${color}"/>`);
    });
    flush();
    const ly = TOP + 10 + k * 18;
    parts.push(`<line x1="${WIDTH - RIGHT + 14}" x2="${WIDTH - RIGHT + 34}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${WIDTH - RIGHT + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  if (c.note !== undefined) parts.push(`<text x="${LEFT}" y="${HEIGHT - 10}" fill="#555" font-size="11">${esc(c.note)}</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
