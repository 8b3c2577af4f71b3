// tensorflow_model_server's flags: forms, defaults, unknown and conflicting flags.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_FLAGS, FLAG_SPECS, FlagError, type ServerFlags, helpText, inertFlagNotices, parseCommandLine } from '../src/server/flags';

function parse(...argv: string[]): ServerFlags {
  const parsed = parseCommandLine(argv);
  assert.equal(parsed.help, false);
  return (parsed as { flags: ServerFlags }).flags;
}

function rejects(argv: string[], pattern: RegExp): void {
  assert.throws(() => parseCommandLine(argv), (error: unknown) => error instanceof FlagError && pattern.test(error.message));
}

test("defaults are tensorflow_model_server's", () => {
  const flags = parse('--model_base_path=/models/m');
  assert.equal(flags.port, 8500);
  assert.equal(flags.restApiPort, 0);
  assert.equal(flags.modelName, 'default');
  assert.equal(flags.fileSystemPollWaitSeconds, 1);
  assert.equal(flags.enableModelWarmup, true);
  assert.equal(flags.enableBatching, false);
  assert.equal(flags.restApiTimeoutInMs, 30000);
  assert.equal(flags.bindAddress, '0.0.0.0');
  assert.deepEqual({ ...flags, modelBasePath: '' }, { ...DEFAULT_FLAGS });
});

test('--flag=value, --flag value and boolean forms', () => {
  const flags = parse('--port=9000', '--rest_api_port', '9001', '--model_name', 'gaofei', '--model_base_path=/m', '--enable_batching', '--enable_model_warmup=false', '--allow_version_labels_for_unavailable_models', 'true', '--per_process_gpu_memory_fraction=0.5');
  assert.equal(flags.port, 9000);
  assert.equal(flags.restApiPort, 9001);
  assert.equal(flags.modelName, 'gaofei');
  assert.equal(flags.modelBasePath, '/m');
  assert.equal(flags.enableBatching, true);
  assert.equal(flags.enableModelWarmup, false);
  assert.equal(flags.allowVersionLabelsForUnavailableModels, true);
  assert.equal(flags.perProcessGpuMemoryFraction, 0.5);
  assert.equal(parse('--model_base_path=/m', '--enable_model_warmup', '--port=1').enableModelWarmup, true);
});

test('unknown flags fail with a suggestion', () => {
  rejects(['--model_base_path=/m', '--rest_port=8501'], /unknown flag --rest_port/);
  rejects(['--model_base_path=/m', '--model-name=x'], /did you mean --model_name/);
  rejects(['--model_base_path=/m', 'extra'], /unexpected argument 'extra'/);
});

test('malformed values fail and name the flag', () => {
  rejects(['--model_base_path=/m', '--port=abc'], /--port takes an integer, got 'abc'/);
  rejects(['--model_base_path=/m', '--port=70000'], /--port must be in \[0, 65535\]/);
  rejects(['--model_base_path=/m', '--enable_batching=yes'], /--enable_batching takes true or false/);
  rejects(['--model_base_path=/m', '--per_process_gpu_memory_fraction=2'], /per_process_gpu_memory_fraction must be in/);
  rejects(['--model_base_path'], /--model_base_path needs a value/);
});

test('conflicting flags fail', () => {
  rejects([], /no model to serve/);
  rejects(['--model_base_path=/m', '--batching_parameters_file=/b'], /needs --enable_batching/);
  rejects(['--model_base_path=/m', '--busy_batch_timeout_micros=5000'], /--busy_batch_timeout_micros needs --enable_batching/);
  rejects(['--model_base_path=/m', '--enable_batching', '--busy_batch_timeout_micros=-2'], /--busy_batch_timeout_micros must be in \[-1, 60000000\]/);
  assert.equal(parse('--model_base_path=/m', '--enable_batching', '--busy_batch_timeout_micros', '5000').busyBatchTimeoutMicros, 5000);
  assert.equal(parse('--model_base_path=/m', '--enable_batching', '--busy_batch_timeout_micros=0').busyBatchTimeoutMicros, 0);
  assert.equal(parse('--model_base_path=/m', '--enable_batching').busyBatchTimeoutMicros, -1, 'default: the batch timeout');
  rejects(['--model_base_path=/m', '--tensorflow_session_parallelism=2', '--tensorflow_intra_op_parallelism=2'], /either --tensorflow_session_parallelism/);
  rejects(['--model_base_path=/m', '--port=8500', '--rest_api_port=8500'], /need different ports/);
  rejects(['--model_base_path=/m', '--model_config_file_poll_wait_seconds=5'], /needs --model_config_file/);
  assert.equal(parse('--model_config_file=/c', '--model_config_file_poll_wait_seconds=5').modelConfigFilePollWaitSeconds, 5);
});

test('--help lists every flag with its default', () => {
  assert.deepEqual(parseCommandLine(['--help']), { help: true });
  assert.deepEqual(parseCommandLine(['--port=1', '--help']), { help: true });
  const text = helpText();
  for (const spec of FLAG_SPECS) {
    assert.match(text, new RegExp(`--${spec.name}=\\w+  \\(default: [^)]*\\)`), spec.name);
  }
  assert.match(text, /--rest_api_port=INT {2}\(default: 0\)/);
  assert.match(text, /--bind_address=STRING {2}\(default: "0\.0\.0\.0"\) \[tfserve\]/);
  assert.match(text, /binds every interface/);
});

test("as in tensorflow_model_server, a flag given again wins, and --model_config_file overrides --model_name/--model_base_path (with a notice)", () => {
  const again = parseCommandLine(['--model_base_path=/m', '--port=1', '--rest_api_port=9', '--port=2']);
  assert.equal(again.help, false);
  if (again.help) return;
  assert.equal(again.flags.port, 2);
  // TF Serving's image runs `--model_name=... --model_base_path=... "$@"`: a config file after the image name must work.
  const image = parseCommandLine(['--port=8500', '--model_name=model', '--model_base_path=/models/model', '--model_config_file=/models/models.config']);
  assert.equal(image.help, false);
  if (image.help) return;
  assert.equal(image.flags.modelConfigFile, '/models/models.config');
  const notices = inertFlagNotices(image.given, image.flags);
  assert.deepEqual(notices, [
    '--model_name has no effect with --model_config_file: the config file names every model, as in tensorflow_model_server',
    '--model_base_path has no effect with --model_config_file: the config file names every model, as in tensorflow_model_server',
  ]);
  assert.deepEqual(inertFlagNotices(parseCommandLineGiven(['--model_base_path=/m'])), []);
});

function parseCommandLineGiven(argv: string[]): ReadonlySet<keyof ServerFlags> {
  const parsed = parseCommandLine(argv);
  assert.equal(parsed.help, false);
  return parsed.help ? new Set() : parsed.given;
}
