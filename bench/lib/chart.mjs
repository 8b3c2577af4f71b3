// Hand-built SVG: throughput against concurrent callers, one panel per model,
// one line per contender, TF's own large-batch throughput as a dashed line.
import { cellsOf } from './tables.mjs';

const COLORS = { tfserve: '#d9480f', 'onnxruntime-node': '#7048e8', 'tfjs-node': '#1971c2', native: '#2f9e44' };
const PANEL_W = 360;
const PANEL_H = 260;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 44 };

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * exp >= value) return step * exp;
  return 10 * exp;
}

function fmtTick(v) {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(1)}`;
}

function panel(results, model, x0) {
  const sweep = cellsOf(results, model.id, 'sweep').filter((c) => !c.error);
  const nativeBatches = cellsOf(results, model.id, 'batch').filter((c) => !c.error && c.contender === 'native');
  const ceiling = nativeBatches.find((c) => c.batch === 64) ?? nativeBatches.sort((a, b) => b.batch - a.batch)[0];
  const levels = [...new Set(sweep.map((c) => c.concurrency))].sort((a, b) => a - b);
  const out = [];
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const left = x0 + MARGIN.left;
  const top = MARGIN.top;
  out.push(`<text x="${x0 + PANEL_W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(model.id)}</text>`);
  if (levels.length === 0) {
    out.push(`<text x="${x0 + PANEL_W / 2}" y="${top + plotH / 2}" text-anchor="middle" fill="#868e96">not measured</text>`);
    return out.join('\n');
  }
  const sweepMax = Math.max(...sweep.map((c) => c.examplesPerSecond));
  // A ceiling far above every sweep point would flatten the lines; it is then named, not drawn.
  const ceilingOnScale = ceiling && ceiling.examplesPerSecond <= 2 * sweepMax;
  const yMax = niceMax(Math.max(sweepMax, ceilingOnScale ? ceiling.examplesPerSecond : 0) * 1.05);
  const xOf = (c) => left + (levels.length === 1 ? plotW / 2 : (levels.indexOf(c) / (levels.length - 1)) * plotW);
  const yOf = (v) => top + plotH - (v / yMax) * plotH;
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    const y = yOf(v);
    out.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" stroke="#e9ecef"/>`);
    out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${fmtTick(v)}</text>`);
  }
  for (const c of levels) out.push(`<text x="${xOf(c)}" y="${top + plotH + 16}" text-anchor="middle" font-size="11">${c}</text>`);
  out.push(`<text x="${left + plotW / 2}" y="${PANEL_H - 8}" text-anchor="middle" font-size="11">concurrent callers (1 example each)</text>`);
  out.push(`<text transform="translate(${x0 + 14},${top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="11">examples/s</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#adb5bd"/>`);
  if (ceiling && !ceilingOnScale) {
    out.push(`<text x="${left + plotW - 4}" y="${top + 12}" text-anchor="end" font-size="10" fill="${COLORS.native}">TF batch-${ceiling.batch}: ${fmtTick(ceiling.examplesPerSecond)} ex/s (off scale)</text>`);
  }
  if (ceilingOnScale) {
    const y = yOf(ceiling.examplesPerSecond);
    out.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" stroke="${COLORS.native}" stroke-dasharray="5,4"/>`);
    out.push(`<text x="${left + plotW - 4}" y="${y - 4}" text-anchor="end" font-size="10" fill="${COLORS.native}">TF batch-${ceiling.batch}</text>`);
  }
  for (const contender of Object.keys(COLORS)) {
    const points = sweep.filter((c) => c.contender === contender).sort((a, b) => a.concurrency - b.concurrency);
    if (points.length === 0) continue;
    const coords = points.map((c) => `${xOf(c.concurrency).toFixed(1)},${yOf(c.examplesPerSecond).toFixed(1)}`);
    out.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${COLORS[contender]}" stroke-width="2"/>`);
    for (const xy of coords) {
      const [x, y] = xy.split(',');
      out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${COLORS[contender]}"/>`);
    }
  }
  return out.join('\n');
}

export function throughputChart(results, models) {
  const width = PANEL_W * models.length;
  const height = PANEL_H + 28;
  const legend = Object.entries(COLORS).map(([name, color], i) => {
    const x = 16 + i * 150;
    return `<line x1="${x}" y1="${PANEL_H + 14}" x2="${x + 24}" y2="${PANEL_H + 14}" stroke="${color}" stroke-width="2"/><text x="${x + 30}" y="${PANEL_H + 18}" font-size="12">${esc(name === 'native' ? 'TF_SessionRun (C++)' : name)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...models.map((m, i) => panel(results, m, i * PANEL_W)),
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}
