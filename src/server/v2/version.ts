// tfserve's version, as ServerMetadata reports it (read once from package.json).
import { readFileSync } from 'node:fs';
import path from 'node:path';

let version: string | null = null;

export function serverVersion(): string {
  version ??= (JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
