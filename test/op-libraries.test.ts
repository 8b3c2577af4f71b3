// Op libraries: TF Text's, which install provisions and every process loads
// before any model (TF Serving's tf_text_regression over gRPC and REST with
// no extra step), users' own (opLibraries, --op_libraries) and the errors for
// a bad library or an op that no loaded library registers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';


import { loadModel, loadOpLibraries } from '../src';
import { DEFAULT_FLAGS, type ServerFlags } from '../src/server/flags';
import { startServer } from '../src/server/server';
import { grpcPredict as predictOverGrpc } from './grpc-helpers';
import { fixture, freePort, rejectsWithCode, repoRoot, spawnCli, tempDir } from './helpers';
import { post } from './rest-helpers';

/** examples/op-library built against the provisioned TF (compiled once, then reused); its path. */
function buildExampleOpLibrary(): string {
  return execFileSync(process.execPath, [path.join(repoRoot, 'examples', 'op-library', 'build.mjs')], { encoding: 'utf8' }).trim();
}

const SUITE_TESTDATA = path.resolve(repoRoot, '..', 'shared', 'tf_serving_suite', 'tensorflow_serving', 'servables', 'tensorflow', 'testdata');
const TF_TEXT_MODEL = path.join(SUITE_TESTDATA, 'tf_text_regression');
const skipTfText = fs.existsSync(TF_TEXT_MODEL) ? false : `TF Serving's suite testdata not found at ${SUITE_TESTDATA}`;

const grpcPredict = (port: number, request: Record<string, unknown>) => predictOverGrpc(port, request, { longs: String, enums: String });

test('TF Text ops are there with no option: the provisioned libraries register CaseFoldUTF8 and friends', async () => {
  const libraries = await loadOpLibraries();
  const ops = libraries.flatMap((library) => library.ops);
  assert.ok(libraries.length > 0, 'install provisioned no op library');
  for (const op of ['CaseFoldUTF8', 'NormalizeUTF8', 'RegexSplitWithOffsets', 'TFText>WhitespaceTokenizeWithOffsetsV2', 'UnicodeScriptTokenizeWithOffsets']) {
    assert.ok(ops.includes(op), `${op} is not among the ${ops.length} ops loaded`);
  }
  // Loaded once per process: asking again loads nothing new.
  assert.deepEqual(await loadOpLibraries(), libraries);
});

test("TF Serving's tf_text_regression answers 3.0 for 2.0 over gRPC and REST, with no extra step", { skip: skipTfText }, async () => {
  const lines: string[] = [];
  const flags: ServerFlags = {
    ...DEFAULT_FLAGS,
    port: 0,
    restApiPort: await freePort(),
    bindAddress: '127.0.0.1',
    modelName: 'text',
    modelBasePath: TF_TEXT_MODEL,
    fileSystemPollWaitSeconds: 0,
  };
  const server = await startServer(flags, { log: (line) => lines.push(line) });
  try {
    assert.ok(lines.some((line) => /^op libraries: \d+ in .*tensorflow_text \(\d+ ops\)/.test(line)), lines.join('\n'));
    assert.ok(lines.some((line) => line.includes("model 'text' version 1 loaded")), lines.join('\n'));
    const answer = await grpcPredict(server.grpcPort, {
      modelSpec: { name: 'text' },
      inputs: { x: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 1 }] }, floatVal: [2.0] } },
    });
    const y = (answer.outputs as Record<string, { floatVal: number[] }>).y!;
    assert.deepEqual(y.floatVal, [3.0]);
    const rest = await post(server.restPort!, '/v1/models/text:predict', JSON.stringify({ inputs: { x: [2.0] } }));
    assert.equal(rest.status, 200, rest.text);
    assert.deepEqual(JSON.parse(rest.text), { outputs: [3.0] });
  } finally {
    await server.shutdown(1000);
  }
});

test('opLibraries: a missing file, a file that is no library and a value that is no list are refused, naming what is wrong', async () => {
  const counter = fixture('counter');
  await rejectsWithCode(loadModel(counter, { opLibraries: ['/nonexistent/libmy_ops.so'] }), 'NOT_FOUND', /op library '\/nonexistent\/libmy_ops\.so' does not exist/);
  const notLibrary = path.join(tempDir('oplib'), 'not_a_library.so');
  fs.writeFileSync(notLibrary, 'not an ELF file');
  await rejectsWithCode(loadModel(counter, { opLibraries: [notLibrary] }), 'NOT_FOUND', new RegExp(`op library '${notLibrary}' did not load: .*`));
  await rejectsWithCode(loadModel(counter, { opLibraries: 'libmy_ops.so' as unknown as string[] }), 'INVALID_ARGUMENT', /opLibraries must be an array of paths/);
  // The process lives on, and the model loads without the bad library.
  const model = await loadModel(counter);
  await model.unload();
});

// Before the example library is loaded in this process (registration is process-wide and stays).
test('a model using an op no loaded library registers: the error names the op and lists the libraries loaded', async () => {
  const libraries = await loadOpLibraries();
  const error = await rejectsWithCode(loadModel(fixture('custom_op')), 'NOT_FOUND', /the model uses op 'TfserveExampleAdd', which neither TensorFlow 2\.\d+\.\d+ nor a loaded op library registers/);
  assert.match(error.message, /op libraries loaded: \d+ in \S+tensorflow_text \(/);
  for (const library of libraries) assert.ok(error.message.includes(path.basename(library.path)), `${library.path} is not listed`);
  assert.match(error.message, /--op_libraries/);
});

test("a user's op library written against TF's C API (examples/op-library) registers its op, and the model using it answers", async () => {
  const library = buildExampleOpLibrary();
  const model = await loadModel(fixture('custom_op'), { opLibraries: [library] });
  try {
    const out = await model.predict({ x: { shape: [3], data: [2, -1, 0.5] } });
    assert.deepEqual([...(out.y!.data as Float32Array)], [3, 0, 1.5]);
  } finally {
    await model.unload();
  }
  const loaded = await loadOpLibraries();
  assert.deepEqual(loaded.find((entry) => entry.path === library)?.ops, ['TfserveExampleAdd']);
  // Loaded once per process: naming it again (as every load of the server does) is no error.
  const again = await loadModel(fixture('custom_op'), { opLibraries: [library] });
  await again.unload();
});

test('--op_libraries loads a library before the models: the server serves the model using its op', async () => {
  const library = buildExampleOpLibrary();
  const lines: string[] = [];
  const flags: ServerFlags = { ...DEFAULT_FLAGS, port: 0, bindAddress: '127.0.0.1', modelName: 'custom', modelBasePath: fixture('custom_op'), fileSystemPollWaitSeconds: 0, opLibraries: library };
  const server = await startServer(flags, { log: (line) => lines.push(line) });
  try {
    assert.ok(lines.some((line) => line.startsWith('op libraries: ') && line.includes(`${library} (1 ops)`)), lines.join('\n'));
    const answer = await grpcPredict(server.grpcPort, {
      modelSpec: { name: 'custom' },
      inputs: { x: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 2 }] }, floatVal: [2, 10] } },
    });
    assert.deepEqual((answer.outputs as Record<string, { floatVal: number[] }>).y!.floatVal, [3, 11]);
  } finally {
    await server.shutdown(1000);
  }
});

test('--op_libraries with a bad path stops the server at start with the reason', async () => {
  const cli = spawnCli(['--port=0', '--op_libraries=/nonexistent/libmy_ops.so', `--model_base_path=${fixture('counter')}`]);
  const { code } = await cli.exited;
  assert.notEqual(code, 0);
  assert.match(cli.output(), /op library '\/nonexistent\/libmy_ops\.so' does not exist/);
  assert.doesNotMatch(cli.output(), /Running gRPC ModelServer/);
});
