// A small live line chart on a canvas, drawn by hand: the last minute of a few rates, one
// point a second from `stats` events. Colours come from CSS custom properties so the chart
// follows the page's theme.

const WINDOW_MS = 60_000;
const MAX_SAMPLES = 90;

// The smallest of 1, 2, 5 x 10^k at or above value, so the axis reads in round numbers.
function niceCeiling(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function shortNumber(n) {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(+n.toFixed(1));
}

export class RateChart {
  // series: [{key, colorVar}] in drawing order.
  constructor(canvas, series) {
    this.canvas = canvas;
    this.series = series;
    this.samples = [];  // {at, values: {key: rate}}
    new ResizeObserver(() => this.draw()).observe(canvas);
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.draw());
  }

  push(at, values) {
    this.samples.push({ at, values });
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
    this.draw();
  }

  clear() {
    this.samples = [];
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (!width || !height) return;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const style = getComputedStyle(canvas);
    const color = (name) => style.getPropertyValue(name).trim() || '#888';
    const pad = { left: 34, right: 6, top: 8, bottom: 16 };
    const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
    const now = this.samples.length ? this.samples[this.samples.length - 1].at : Date.now();
    const visible = this.samples.filter((s) => now - s.at <= WINDOW_MS);
    let peak = 0;
    for (const s of visible) for (const { key } of this.series) peak = Math.max(peak, s.values[key] || 0);
    const top = niceCeiling(peak);
    const x = (at) => pad.left + plotW - ((now - at) / WINDOW_MS) * plotW;
    const y = (v) => pad.top + plotH - (v / top) * plotH;

    // Grid and axis labels.
    ctx.font = `10px ${style.fontFamily}`;
    ctx.fillStyle = color('--muted');
    ctx.strokeStyle = color('--grid');
    ctx.lineWidth = 1;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (const fraction of [0, 0.5, 1]) {
      const gy = Math.round(y(top * fraction)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, gy);
      ctx.lineTo(pad.left + plotW, gy);
      ctx.stroke();
      ctx.fillText(shortNumber(top * fraction), pad.left - 5, gy);
    }
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText('60s ago', pad.left, height - 3);
    ctx.textAlign = 'right';
    ctx.fillText('now', pad.left + plotW, height - 3);

    if (visible.length < 2) {
      ctx.textAlign = 'center';
      ctx.fillText('waiting for data…', pad.left + plotW / 2, pad.top + plotH * 0.25);
      return;
    }
    for (const { key, colorVar } of this.series) {
      const stroke = color(colorVar);
      ctx.beginPath();
      visible.forEach((s, i) => {
        const px = x(s.at), py = y(s.values[key] || 0);
        if (i === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      });
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 1.75;
      ctx.lineJoin = 'round';
      ctx.stroke();
      // A faint fill under the line makes overlapping series easier to tell apart.
      ctx.lineTo(x(visible[visible.length - 1].at), y(0));
      ctx.lineTo(x(visible[0].at), y(0));
      ctx.closePath();
      ctx.globalAlpha = 0.08;
      ctx.fillStyle = stroke;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
  }
}

// Turns the cumulative totals of consecutive `stats` events into per-second rates.
export class StatsRates {
  constructor() {
    this.previous = null;
  }

  // Returns {submitted, finished, commits} per second, or null for the first event.
  next(stats) {
    const previous = this.previous;
    this.previous = stats;
    if (!previous) return null;
    const seconds = (stats.at - previous.at) / 1000;
    if (!(seconds > 0)) return null;
    // A total that went down means another node's state (a reconnect elsewhere): no rate.
    const rate = (a, b) => (b >= a ? (b - a) / seconds : 0);
    return {
      submitted: rate(previous.jobs_submitted, stats.jobs_submitted),
      finished: rate(previous.jobs_finished, stats.jobs_finished),
      commits: rate(previous.commit_index, stats.commit_index),
    };
  }

  reset() {
    this.previous = null;
  }
}
