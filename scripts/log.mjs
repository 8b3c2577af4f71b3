// Progress lines for the install and fixture scripts.
export function log(message) {
  process.stderr.write(`[tfserve] ${message}\n`);
}

export function seconds(startMs) {
  return `${((Date.now() - startMs) / 1000).toFixed(1)} s`;
}
