// TF Serving's on-disk layout: a base path holding one numeric directory per
// model version (base/1, base/2, ... or base/00000123).
import fs from 'node:fs/promises';
import path from 'node:path';

import { TfServeError } from './errors';

const VERSION_DIR = /^\d+$/;

/** Numeric version directories under basePath, ascending. */
export async function listVersions(basePath: string): Promise<number[]> {
  let stat;
  try {
    stat = await fs.stat(basePath);
  } catch {
    throw new TfServeError('NOT_FOUND', `model base path ${basePath} does not exist`);
  }
  if (!stat.isDirectory()) throw new TfServeError('NOT_FOUND', `model base path ${basePath} is not a directory`);
  const entries = await fs.readdir(basePath, { withFileTypes: true });
  const versions: number[] = [];
  for (const entry of entries) {
    if (!VERSION_DIR.test(entry.name)) continue;
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await fs.stat(path.join(basePath, entry.name)).then((s) => s.isDirectory(), () => false)));
    if (isDir) versions.push(Number(entry.name));
  }
  return versions.sort((a, b) => a - b);
}

/** The directory of one version; version dirs may carry leading zeros. */
export async function versionDir(basePath: string, version: number): Promise<string> {
  const entries = await fs.readdir(basePath);
  const name = entries.find((entry) => VERSION_DIR.test(entry) && Number(entry) === version);
  if (name === undefined) throw new TfServeError('NOT_FOUND', `version ${version} of ${basePath} does not exist`);
  return path.join(basePath, name);
}

export interface ResolvedVersion {
  version: number;
  exportDir: string;
  versions: number[];
}

/** Picks the requested version, or the highest one. */
export async function resolveVersion(basePath: string, requested?: number): Promise<ResolvedVersion> {
  const versions = await listVersions(basePath);
  if (versions.length === 0) {
    throw new TfServeError(
      'NOT_FOUND',
      `no versions of the model under ${basePath}: expected numeric version directories such as ${path.join(basePath, '1')}`,
    );
  }
  const version = requested ?? versions[versions.length - 1]!;
  if (!versions.includes(version)) {
    throw new TfServeError('NOT_FOUND', `version ${version} not found under ${basePath} (available: ${versions.join(', ')})`);
  }
  return { version, exportDir: await versionDir(basePath, version), versions };
}
