// Number formatting and plain/markdown tables shared by the terminal and docs reports.

export function fmtRate(value) {
  if (value === undefined || value === null || Number.isNaN(value)) return '—';
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(1);
}

/** A duration given in microseconds. */
export function fmtUs(us) {
  if (us === undefined || us === null || Number.isNaN(us)) return '—';
  if (us < 1000) return `${us.toFixed(us < 100 ? 1 : 0)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

export function fmtMs(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '—';
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

export function fmtRatio(value) {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  return value >= 10 ? `${value.toFixed(1)}x` : `${value.toFixed(2)}x`;
}

const width = (s) => [...s].length;

/** Columns padded with spaces; numeric-looking cells right-aligned. */
export function textTable(headers, rows) {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(String(r[i] ?? '')))));
  const right = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-—0-9.,]/.test(String(r[i] ?? '')) || r[i] === ''));
  const line = (cells) =>
    cells.map((c, i) => (right[i] ? String(c).padStart(widths[i] + String(c).length - width(String(c))) : String(c).padEnd(widths[i] + String(c).length - width(String(c))))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(headers, rows) {
  const right = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-—0-9.,]/.test(String(r[i] ?? ''))));
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map((_, i) => (right[i] ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map((c) => String(c ?? '').replace(/\|/g, '\\|')).join(' | ')} |`),
  ].join('\n');
}
