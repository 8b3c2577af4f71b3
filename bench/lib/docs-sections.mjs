// Sections of docs/benchmarks.md written by other benches than `npm run
// bench`, which keeps them when it regenerates the file.
import fs from 'node:fs';

export const FRONT_DOOR_START = '<!-- front-door: written by `npm run bench:front-door -- --docs`; kept by `npm run bench` -->';
export const FRONT_DOOR_END = '<!-- /front-door -->';

/** The front-door section of an existing file (markers included), or ''. */
export function keptSections(file) {
  if (!fs.existsSync(file)) return '';
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf(FRONT_DOOR_START);
  const end = text.indexOf(FRONT_DOOR_END);
  return start >= 0 && end > start ? text.slice(start, end + FRONT_DOOR_END.length) : '';
}
