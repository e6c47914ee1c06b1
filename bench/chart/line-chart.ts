/**
 * A line chart of a few series over shared x values (log-scaled x, linear y from 0 or log y), with axes,
 * ticks, a title and a legend: enough for a bench figure in the README, drawn without a chart library.
 */
import type { RasterImage } from '@diffq/codecs';
import { Canvas, type Rgb } from './canvas.ts';

export interface Series {
  name: string;
  /** One y per x of the chart; NaN leaves a gap. */
  y: number[];
  /** Index into the palette (default: the series' position), so a pair of series can share a colour. */
  color?: number;
  /** Drawn thin with small markers: the lighter member of such a pair (e.g. a sampler without an option). */
  thin?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Increasing; positive when the axis is logarithmic. */
  x: number[];
  /** The x axis: logarithmic (default, for step counts) or linear (for a value that can be 0). */
  xScale?: 'log' | 'linear';
  /** The y axis: linear from 0 (default) or logarithmic (for series an order of magnitude apart). */
  yScale?: 'linear' | 'log';
  series: Series[];
}

/** Colour-blind-safe (Okabe–Ito). */
const COLORS: Rgb[] = [
  [0, 114, 178],
  [213, 94, 0],
  [0, 158, 115],
  [204, 121, 167],
  [230, 159, 0],
  [86, 180, 233],
];
const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];

/** A tick step of 1, 2 or 5 × 10^k giving about `count` ticks up to max. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
}

function formatTick(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.max(0, -Math.floor(Math.log10(v)) + 1));
}

/** Ticks every 1, 2 or 5 × 10^k from 0 to a round maximum; y ↦ its height as a fraction of the plot. */
function linearAxis(finite: number[]): { ticks: number[]; py: (y: number) => number } {
  const step = niceStep(Math.max(...finite, 1e-9) * 1.05, 6);
  const yMax = Math.ceil((Math.max(...finite, 1e-9) * 1.05) / step) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= yMax + step / 2; v += step) ticks.push(v);
  return { ticks, py: (y) => y / yMax };
}

/** Ticks at 1, 2 and 5 × 10^k from the last one below the data to the first above (positive values only). */
function logAxis(finite: number[]): { ticks: number[]; py: (y: number) => number } {
  const positive = finite.filter((v) => v > 0);
  const ladder: number[] = [];
  const first = Math.floor(Math.log10(Math.min(...positive)));
  for (let k = first; k <= Math.ceil(Math.log10(Math.max(...positive))); k++) ladder.push(10 ** k, 2 * 10 ** k, 5 * 10 ** k);
  const lo = [...ladder].reverse().find((v) => v <= Math.min(...positive)) ?? ladder[0];
  const hi = ladder.find((v) => v >= Math.max(...positive)) ?? ladder[ladder.length - 1];
  const ticks = ladder.filter((v) => v >= lo && v <= hi);
  return { ticks, py: (y) => Math.log(y / lo) / Math.log(hi / lo) };
}

export function drawLineChart(chart: LineChart, width = 860, height = 520): RasterImage {
  const c = new Canvas(width, height);
  const left = 90;
  const right = Math.max(200, ...chart.series.map((s) => Canvas.textWidth(s.name) + 70));
  const top = 60;
  const bottom = 70;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const finite = chart.series.flatMap((s) => s.y).filter(Number.isFinite);
  const { ticks, py: yToPlot } = chart.yScale === 'log' ? logAxis(finite) : linearAxis(finite);
  const lx = chart.xScale === 'linear' ? chart.x : chart.x.map(Math.log);
  const px = (i: number) => left + (lx.length > 1 ? ((lx[i] - lx[0]) / (lx[lx.length - 1] - lx[0])) * plotW : plotW / 2);
  const py = (y: number) => top + plotH - yToPlot(y) * plotH;

  c.text((width - Canvas.textWidth(chart.title)) / 2, 20, chart.title, INK);
  for (const v of ticks) {
    c.line(left, py(v), left + plotW, py(v), GRID);
    const label = formatTick(v);
    c.text(left - 10 - Canvas.textWidth(label), py(v) - 7, label, INK);
  }
  for (const [i, x] of chart.x.entries()) {
    c.line(px(i), top, px(i), top + plotH, GRID);
    c.line(px(i), top + plotH, px(i), top + plotH + 6, INK);
    c.text(px(i) - Canvas.textWidth(String(x)) / 2, top + plotH + 12, String(x), INK);
  }
  c.line(left, top, left, top + plotH, INK, 2);
  c.line(left, top + plotH, left + plotW, top + plotH, INK, 2);
  c.text(left + (plotW - Canvas.textWidth(chart.xLabel)) / 2, height - 28, chart.xLabel, INK);
  c.textUp(18, top + (plotH + Canvas.textWidth(chart.yLabel)) / 2, chart.yLabel, INK);

  for (const [k, s] of chart.series.entries()) {
    const color = COLORS[(s.color ?? k) % COLORS.length];
    const [lineWidth, marker] = s.thin ? [1, 5] : [3, 9];
    for (let i = 0; i < s.y.length; i++) {
      if (!Number.isFinite(s.y[i])) continue;
      if (i > 0 && Number.isFinite(s.y[i - 1])) c.line(px(i - 1), py(s.y[i - 1]), px(i), py(s.y[i]), color, lineWidth);
      c.rect(px(i) - (marker - 1) / 2, py(s.y[i]) - (marker - 1) / 2, marker, marker, color);
    }
    const ly = top + 10 + k * 26;
    c.rect(left + plotW + 24, ly + (s.thin ? 5 : 2), 24, s.thin ? 3 : 10, color);
    c.text(left + plotW + 56, ly, s.name, INK);
  }
  return c.raster();
}
