// Op libraries: shared objects that register ops and kernels with TensorFlow
// (TF_LoadLibrary), as TF Serving links TF Text's in. Install provisions TF
// Text's for the TF version it provisions (scripts/tf-text.mjs) and lists
// them in deps/libtensorflow.json; users add their own (LoadOptions
// opLibraries, the server's --op_libraries). All are loaded before a model
// loads. Registration is process-wide: the addon loads each library once per
// process, whichever thread asks first (native/op_libraries.h).
import fs from 'node:fs';
import path from 'node:path';

import { TfServeError, invalidArgument } from './errors';
import { native } from './native';
import { lazyProtoRoot } from './proto';

const DEPS_DIR = path.resolve(__dirname, '..', '..', '..', 'deps');

/** A loaded op library and the ops it registered. */
export interface OpLibrary {
  path: string;
  ops: string[];
}

const opListRoot = lazyProtoRoot(['tensorflow/core/framework/op_def.proto']);

let bundled: string[] | undefined;

/** The op libraries install provisioned (TF Text's), as absolute paths; none if it provisioned none. */
export function bundledOpLibraries(): string[] {
  if (bundled === undefined) {
    let config: { opLibraries?: string[] } = {};
    try {
      config = JSON.parse(fs.readFileSync(path.join(DEPS_DIR, 'libtensorflow.json'), 'utf8'));
    } catch {
      // No install record (the addon was built some other way): nothing bundled.
    }
    bundled = (config.opLibraries ?? []).map((name) => path.join(DEPS_DIR, 'libtensorflow', name));
  }
  return bundled;
}

/** Checks an `opLibraries` option: an array of paths, resolved against the working directory. */
export function checkOpLibraries(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string' || entry === '')) {
    throw invalidArgument('opLibraries must be an array of paths to op libraries (.so files)');
  }
  return value.map((entry: string) => path.resolve(entry));
}

// What this thread last learned from the addon (the list is process-wide).
let loaded: OpLibrary[] = [];

/**
 * Loads the bundled op libraries and `extra` (paths) unless the process has
 * them already; resolves to every op library loaded in the process (as this
 * thread last learned it from the addon, which it asks whenever one is new).
 */
export async function loadOpLibraries(extra: readonly string[] = []): Promise<OpLibrary[]> {
  const extras = checkOpLibraries(extra);
  const wanted = [...bundledOpLibraries(), ...extras];
  if (wanted.every((file) => loaded.some((library) => library.path === file))) return loaded;
  for (const file of extras) {
    // TF's own message for a missing file is dlopen's, without the path.
    if (!fs.existsSync(file)) throw new TfServeError('NOT_FOUND', `op library '${file}' does not exist`);
  }
  return fromAddon(wanted);
}

/** Has the addon load `paths` (those not loaded yet) and remembers its list of every library the process loaded. */
async function fromAddon(paths: string[]): Promise<OpLibrary[]> {
  let result;
  try {
    result = await native.loadOpLibraries(paths);
  } catch (error) {
    throw TfServeError.from(error);
  }
  const OpList = opListRoot().lookupType('tensorflow.OpList');
  loaded = result.map(({ path: file, opList }) => {
    const list = OpList.toObject(OpList.decode(opList)) as { op?: Array<{ name: string }> };
    return { path: file, ops: (list.op ?? []).map((op) => op.name) };
  });
  return loaded;
}

const NOT_REGISTERED = /Op type not registered '([^']+)'/;

/**
 * TF's "Op type not registered 'X'" load error, reworded to name the op and
 * list the op libraries loaded (by any thread); other errors pass through.
 */
export async function explainMissingOp(error: TfServeError): Promise<TfServeError> {
  const match = NOT_REGISTERED.exec(error.message);
  if (!match) return error;
  // Other threads may have loaded more than this one knows of.
  await fromAddon([]).catch(() => loaded);
  const libraries = describeOpLibraries(loaded, { names: true });
  return new TfServeError(error.code,
    `the model uses op '${match[1]}', which neither TensorFlow ${native.tfVersion()} nor a loaded op library registers ` +
    `(op libraries loaded: ${libraries}); pass the library that registers it in opLibraries (server: --op_libraries). TensorFlow said: ${error.message}`);
}

/**
 * The libraries by directory, e.g. "23 in <dir> (_a.so, _b.so, ...)" (TF
 * Text's make one entry, not 23), with their file names when `names`, else
 * with how many ops they register.
 */
export function describeOpLibraries(libraries: readonly OpLibrary[], { names = false } = {}): string {
  if (libraries.length === 0) return 'none';
  const byDir = new Map<string, OpLibrary[]>();
  for (const library of libraries) {
    const dir = path.dirname(library.path);
    byDir.set(dir, [...(byDir.get(dir) ?? []), library]);
  }
  return [...byDir].map(([dir, group]) => {
    const detail = names
      ? group.map((library) => path.basename(library.path)).join(', ')
      : `${group.reduce((sum, library) => sum + library.ops.length, 0)} ops`;
    return group.length === 1 ? `${group[0]!.path} (${names ? `${group[0]!.ops.length} ops` : detail})` : `${group.length} in ${dir} (${detail})`;
  }).join('; ');
}
