/**
 * Throughput per interface over time as a self-contained SVG: one line per
 * interface, dashed vertical lines with labels for the network events.
 */

/** One line of the plot: points in seconds and Mbit/s. */
export interface PlotSeries {
  name: string;
  points: { t: number; v: number }[];
}

/** A moment worth marking: seconds since the start, and what happened. */
export interface PlotEvent {
  t: number;
  label: string;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round step for about `n` ticks over `span`: 1, 2 or 5 times a power of ten. */
export function tickStep(span: number, n = 8): number {
  if (!(span > 0)) return 1;
  const raw = span / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Renders the plot. */
export function throughputSvg(opts: { title: string; yLabel: string; series: PlotSeries[]; events: PlotEvent[]; width?: number; height?: number }): string {
  const W = opts.width ?? 1000;
  const H = opts.height ?? 460;
  // Room on the right for the longest series name (path names such as "wifi-home received").
  const longest = Math.max(0, ...opts.series.map((s) => s.name.length));
  const m = { l: 60, r: Math.max(130, 45 + longest * 6.5), t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = opts.series.flatMap((s) => s.points);
  const tMax = Math.max(1, ...all.map((p) => p.t), ...opts.events.map((e) => e.t));
  const vMax = Math.max(1, ...all.map((p) => p.v)) * 1.1;
  const x = (t: number): number => m.l + (t / tMax) * pw;
  const y = (v: number): number => m.t + ph - (v / vMax) * ph;
  const f = (n: number): string => n.toFixed(1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`);
  const xs = tickStep(tMax);
  for (let t = 0; t <= tMax + 1e-9; t += xs) {
    out.push(`<line x1="${f(x(t))}" y1="${m.t}" x2="${f(x(t))}" y2="${m.t + ph}" stroke="#eee"/>`);
    out.push(`<text x="${f(x(t))}" y="${m.t + ph + 15}" text-anchor="middle">${+t.toFixed(3)}</text>`);
  }
  const ys = tickStep(vMax, 6);
  for (let v = 0; v <= vMax + 1e-9; v += ys) {
    out.push(`<line x1="${m.l}" y1="${f(y(v))}" x2="${m.l + pw}" y2="${f(y(v))}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 5}" y="${f(y(v) + 4)}" text-anchor="end">${+v.toFixed(3)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">time (s)</text>`);
  out.push(`<text transform="translate(15 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  // Each label runs down its own line, haloed in white so it stays readable
  // over the curves; a label whose line is too close to the previous one
  // starts below that one's text instead of overwriting it.
  let prev = { x: -Infinity, end: m.t };
  opts.events.forEach((e) => {
    const ex = x(e.t);
    out.push(`<line x1="${f(ex)}" y1="${m.t}" x2="${f(ex)}" y2="${m.t + ph}" stroke="#888" stroke-dasharray="4 3"/>`);
    const start = ex - prev.x < 14 ? prev.end + 8 : m.t + 4;
    out.push(`<text transform="translate(${f(ex + 3)} ${f(start)}) rotate(90)" fill="#444" stroke="white" stroke-width="3" paint-order="stroke">${esc(e.label)}</text>`);
    prev = { x: ex, end: start + e.label.length * 6.5 };
  });
  opts.series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length] as string;
    if (s.points.length > 0) {
      const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${f(x(p.t))} ${f(y(p.v))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
    }
    const ly = m.t + 10 + i * 16;
    out.push(`<line x1="${m.l + pw + 10}" y1="${ly}" x2="${m.l + pw + 30}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    out.push(`<text x="${m.l + pw + 35}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
