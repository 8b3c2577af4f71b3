// Progress lines on stderr, so stdout stays free for the tables.
const started = Date.now();

function elapsed() {
  const s = Math.round((Date.now() - started) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function progress(message) {
  process.stderr.write(`[bench ${elapsed()}] ${message}\n`);
}
