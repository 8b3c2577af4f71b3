// tensorflow_model_server's command-line flags (same names, meaning and
// defaults), plus a few of tfserve's own, marked as such in --help.

import os from 'node:os';

import { DEFAULT_DECODE_LIMITS } from '../serving/decode-limits';

/** Enough for a batch of 64 224x224x3 float32 images (38.5 MB) with room to spare. */
export const DEFAULT_GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface ServerFlags {
  port: number;
  grpcSocketPath: string;
  restApiPort: number;
  restApiTimeoutInMs: number;
  modelName: string;
  modelBasePath: string;
  modelConfigFile: string;
  modelConfigFilePollWaitSeconds: number;
  fileSystemPollWaitSeconds: number;
  enableBatching: boolean;
  busyBatchTimeoutMicros: number;
  batchingParametersFile: string;
  tensorflowSessionParallelism: number;
  tensorflowIntraOpParallelism: number;
  tensorflowInterOpParallelism: number;
  perProcessGpuMemoryFraction: number;
  enableModelWarmup: boolean;
  monitoringConfigFile: string;
  allowVersionLabelsForUnavailableModels: boolean;
  maxNumLoadRetries: number;
  loadRetryIntervalMicros: number;
  grpcChannelArguments: string;
  savedModelTags: string;
  enableSignatureMethodNameCheck: boolean;
  xlaCpuCompilationEnabled: boolean;
  version: boolean;
  preferTfliteModel: boolean;
  // tensorflow_model_server's, accepted with no effect (see FlagSpec.inert)
  enableGrpcHealthcheckService: boolean;
  enablePerModelBatchingParameters: boolean;
  enableProfiler: boolean;
  enableSerializationAsTensorContent: boolean;
  flushFilesystemCaches: boolean;
  grpcMaxThreads: number;
  mixedPrecision: string;
  numLoadThreads: number;
  numUnloadThreads: number;
  numRequestIterationsForWarmup: number;
  numTfliteInterpretersPerPool: number;
  numTflitePools: number;
  platformConfigFile: string;
  removeUnusedFieldsFromBundleMetagraph: boolean;
  restApiEnableCorsSupport: boolean;
  restApiNumThreads: number;
  skipInitializeTpu: boolean;
  sslConfigFile: string;
  tensorflowSessionConfigFile: string;
  threadPoolFactoryConfigFile: string;
  useAltsCredentials: boolean;
  xlaGpuCompilationEnabled: boolean;
  // tfserve's own
  bindAddress: string;
  grpcMaxMessageBytes: number;
  restApiMaxBodyBytes: number;
  shutdownGraceSeconds: number;
  engineWorkers: number;
  frontDoorThreads: number;
  serveDuringLoad: boolean;
  requestDecodeFactor: number;
  requestDecodeFloorBytes: number;
  requestDecodeMaxBytes: number;
  opLibraries: string;
  demo: boolean;
}

type FlagKind = 'int' | 'float' | 'bool' | 'string';

interface FlagSpec {
  name: string;
  key: keyof ServerFlags;
  kind: FlagKind;
  help: string;
  /** Inclusive bounds for numbers. */
  min?: number;
  max?: number;
  /** tfserve's own flag (not tensorflow_model_server's). */
  own?: boolean;
  /**
   * tensorflow_model_server's flag that tfserve accepts (so that its command
   * lines run unchanged) but that has no effect here: why. Logged at start
   * when the flag is given.
   */
  inert?: string;
}

export const DEFAULT_FLAGS: Readonly<ServerFlags> = Object.freeze({
  port: 8500,
  grpcSocketPath: '',
  restApiPort: 0,
  restApiTimeoutInMs: 30000,
  modelName: 'default',
  modelBasePath: '',
  modelConfigFile: '',
  modelConfigFilePollWaitSeconds: 0,
  fileSystemPollWaitSeconds: 1,
  enableBatching: false,
  busyBatchTimeoutMicros: -1,
  batchingParametersFile: '',
  tensorflowSessionParallelism: 0,
  tensorflowIntraOpParallelism: 0,
  tensorflowInterOpParallelism: 0,
  perProcessGpuMemoryFraction: 0,
  enableModelWarmup: true,
  monitoringConfigFile: '',
  allowVersionLabelsForUnavailableModels: false,
  maxNumLoadRetries: 5,
  loadRetryIntervalMicros: 60_000_000,
  grpcChannelArguments: '',
  savedModelTags: 'serve',
  enableSignatureMethodNameCheck: false,
  version: false,
  enableGrpcHealthcheckService: false,
  enablePerModelBatchingParameters: false,
  enableProfiler: true,
  enableSerializationAsTensorContent: false,
  flushFilesystemCaches: true,
  grpcMaxThreads: 0,
  mixedPrecision: '',
  numLoadThreads: 0,
  numUnloadThreads: 0,
  numRequestIterationsForWarmup: 0,
  numTfliteInterpretersPerPool: 1,
  numTflitePools: 0,
  platformConfigFile: '',
  preferTfliteModel: false,
  removeUnusedFieldsFromBundleMetagraph: true,
  restApiEnableCorsSupport: false,
  restApiNumThreads: 0,
  skipInitializeTpu: false,
  sslConfigFile: '',
  tensorflowSessionConfigFile: '',
  threadPoolFactoryConfigFile: '',
  useAltsCredentials: false,
  xlaCpuCompilationEnabled: false,
  xlaGpuCompilationEnabled: false,
  bindAddress: '0.0.0.0',
  grpcMaxMessageBytes: DEFAULT_GRPC_MAX_MESSAGE_BYTES,
  restApiMaxBodyBytes: 128 * 1024 * 1024,
  shutdownGraceSeconds: 10,
  // Predict requests are decoded, run and encoded on these (hot-path/): at least one, so the event loop only frames HTTP.
  engineWorkers: Math.max(1, Math.min(4, os.availableParallelism() - 1)),
  // The ports are served by these (front-door/): HTTP/2 and HTTP/1 framing and Predict off the main thread.
  frontDoorThreads: Math.max(1, Math.min(4, os.availableParallelism() - 1)),
  serveDuringLoad: false,
  requestDecodeFactor: DEFAULT_DECODE_LIMITS.factor,
  requestDecodeFloorBytes: DEFAULT_DECODE_LIMITS.floorBytes,
  requestDecodeMaxBytes: DEFAULT_DECODE_LIMITS.maxBytes,
  opLibraries: '',
  demo: false,
});

const PORT = { min: 0, max: 65535 };
const COUNT = { min: 0, max: 2 ** 31 - 1 };
const NO_THREADS = 'Node.js serves every connection from one event loop, and TensorFlow runs on tfserve\'s own run and batch threads';
const NO_TFLITE = 'each TFLite model version has one LiteRT compiled model, whose runs tfserve takes one at a time (docs/SERVING.md, "TFLite")';

/** tensorflow_model_server's flags that tfserve accepts and ignores, each with why. */
const INERT_SPECS: readonly FlagSpec[] = [
  { name: 'enable_grpc_healthcheck_service', key: 'enableGrpcHealthcheckService', kind: 'bool', help: 'serve grpc.health.v1.Health', inert: 'tfserve always serves grpc.health.v1.Health' },
  { name: 'enable_per_model_batching_parameters', key: 'enablePerModelBatchingParameters', kind: 'bool', help: "read batching_params.pbtxt from each model's directory", inert: 'every model batches with --batching_parameters_file' },
  { name: 'enable_profiler', key: 'enableProfiler', kind: 'bool', help: "serve TensorFlow's profiler service", inert: "tfserve has no profiler service (profile the process with Node's and Linux's tools)" },
  { name: 'enable_serialization_as_tensor_content', key: 'enableSerializationAsTensorContent', kind: 'bool', help: 'write response tensors as tensor_content', inert: 'tfserve writes response tensors as TF Serving does by default' },
  { name: 'flush_filesystem_caches', key: 'flushFilesystemCaches', kind: 'bool', help: "flush TF's file system caches after the first loads", inert: "tfserve reads models from local disks, which TensorFlow does not cache" },
  { name: 'grpc_max_threads', key: 'grpcMaxThreads', kind: 'int', ...COUNT, help: 'threads handling gRPC messages', inert: NO_THREADS },
  { name: 'mixed_precision', key: 'mixedPrecision', kind: 'string', help: 'mixed precision mode', inert: 'models run in the precision they were saved in' },
  { name: 'num_load_threads', key: 'numLoadThreads', kind: 'int', ...COUNT, help: 'threads loading servables', inert: 'each load runs on a thread of its own' },
  { name: 'num_unload_threads', key: 'numUnloadThreads', kind: 'int', ...COUNT, help: 'threads unloading servables', inert: 'each unload runs on a thread of its own' },
  { name: 'num_request_iterations_for_warmup', key: 'numRequestIterationsForWarmup', kind: 'int', ...COUNT, help: 'times each warmup request is replayed', inert: 'each warmup record is replayed once' },
  { name: 'num_tflite_interpreters_per_pool', key: 'numTfliteInterpretersPerPool', kind: 'int', ...COUNT, help: 'TFLite interpreters per pool', inert: NO_TFLITE },
  { name: 'num_tflite_pools', key: 'numTflitePools', kind: 'int', ...COUNT, help: 'TFLite interpreter pools', inert: NO_TFLITE },
  { name: 'platform_config_file', key: 'platformConfigFile', kind: 'string', help: 'PlatformConfigMap text-format file', inert: 'tfserve serves the tensorflow platform only, configured by the other flags' },
  { name: 'prefer_tflite_model', key: 'preferTfliteModel', kind: 'bool', help: 'serve model.tflite (through LiteRT) instead of the SavedModel where a version has one' },
  { name: 'remove_unused_fields_from_bundle_metagraph', key: 'removeUnusedFieldsFromBundleMetagraph', kind: 'bool', help: "drop the MetaGraphDef's unused fields after loading", inert: 'tfserve keeps only the signatures of the MetaGraphDef anyway' },
  { name: 'rest_api_enable_cors_support', key: 'restApiEnableCorsSupport', kind: 'bool', help: 'send CORS headers in REST responses', inert: 'tfserve sends no CORS headers yet' },
  { name: 'rest_api_num_threads', key: 'restApiNumThreads', kind: 'int', ...COUNT, help: 'threads handling REST requests', inert: NO_THREADS },
  { name: 'skip_initialize_tpu', key: 'skipInitializeTpu', kind: 'bool', help: 'do not initialize TPUs', inert: 'tfserve does not use TPUs' },
  { name: 'ssl_config_file', key: 'sslConfigFile', kind: 'string', help: 'SSLConfig text-format file for gRPC TLS', inert: 'refused when set: tfserve serves plaintext gRPC; terminate TLS in front of it' },
  { name: 'tensorflow_session_config_file', key: 'tensorflowSessionConfigFile', kind: 'string', help: 'ConfigProto text-format file for the sessions', inert: "sessions are configured by the parallelism and GPU flags" },
  { name: 'thread_pool_factory_config_file', key: 'threadPoolFactoryConfigFile', kind: 'string', help: 'ThreadPoolConfig text-format file', inert: NO_THREADS },
  { name: 'use_alts_credentials', key: 'useAltsCredentials', kind: 'bool', help: 'use Google ALTS credentials', inert: 'refused when true: tfserve serves plaintext gRPC' },
  { name: 'xla_gpu_compilation_enabled', key: 'xlaGpuCompilationEnabled', kind: 'bool', help: 'XLA JIT compilation on GPU', inert: "tfserve's sessions do not enable XLA on GPU" },
];

export const FLAG_SPECS: readonly FlagSpec[] = [
  { name: 'port', key: 'port', kind: 'int', ...PORT, help: 'TCP port for gRPC (0 = any free port)' },
  { name: 'grpc_socket_path', key: 'grpcSocketPath', kind: 'string', help: 'also serve gRPC on this UNIX socket path (empty = no socket)' },
  { name: 'rest_api_port', key: 'restApiPort', kind: 'int', ...PORT, help: 'TCP port for the HTTP/REST API (0 = no REST API); must differ from --port' },
  { name: 'rest_api_timeout_in_ms', key: 'restApiTimeoutInMs', kind: 'int', ...COUNT, help: 'timeout of one REST request in milliseconds; past it the answer is 504 (0 = none)' },
  { name: 'model_name', key: 'modelName', kind: 'string', help: 'name of the model served from --model_base_path' },
  { name: 'model_base_path', key: 'modelBasePath', kind: 'string', help: 'directory holding one numeric sub-directory per model version' },
  { name: 'model_config_file', key: 'modelConfigFile', kind: 'string', help: 'model_config_list text-format file (replaces --model_name/--model_base_path)' },
  { name: 'model_config_file_poll_wait_seconds', key: 'modelConfigFilePollWaitSeconds', kind: 'int', ...COUNT, help: 'seconds between re-reads of --model_config_file (0 = read once)' },
  { name: 'file_system_poll_wait_seconds', key: 'fileSystemPollWaitSeconds', kind: 'int', ...COUNT, help: 'seconds between scans of the base paths for new versions (0 = scan once)' },
  { name: 'enable_batching', key: 'enableBatching', kind: 'bool', help: 'batch concurrent requests together' },
  { name: 'busy_batch_timeout_micros', key: 'busyBatchTimeoutMicros', kind: 'int', min: -1, max: 60_000_000, own: true, help: "with --enable_batching: how long a batch that is not full may wait while another batch of its queue runs (TF Serving's batching file has no such field; -1, the default: batch_timeout_micros); an idle model still runs a request at once" },
  { name: 'batching_parameters_file', key: 'batchingParametersFile', kind: 'string', help: 'BatchingParameters text-format file (needs --enable_batching)' },
  { name: 'tensorflow_session_parallelism', key: 'tensorflowSessionParallelism', kind: 'int', ...COUNT, help: 'threads of a TF session, both intra- and inter-op (0 = TF decides)' },
  { name: 'tensorflow_intra_op_parallelism', key: 'tensorflowIntraOpParallelism', kind: 'int', ...COUNT, help: "threads parallelizing one op's execution (0 = TF decides)" },
  { name: 'tensorflow_inter_op_parallelism', key: 'tensorflowInterOpParallelism', kind: 'int', ...COUNT, help: "threads running independent ops of a run in parallel (0 = tfserve's default: ops run on the thread serving the request)" },
  { name: 'xla_cpu_compilation_enabled', key: 'xlaCpuCompilationEnabled', kind: 'bool', help: "XLA JIT compilation of the models' graphs on CPU (session option xla)" },
  { name: 'per_process_gpu_memory_fraction', key: 'perProcessGpuMemoryFraction', kind: 'float', min: 0, max: 1, help: "fraction of each GPU's memory to take (0 = TF's default)" },
  { name: 'enable_model_warmup', key: 'enableModelWarmup', kind: 'bool', help: 'replay assets.extra/tf_serving_warmup_requests before a version serves' },
  { name: 'monitoring_config_file', key: 'monitoringConfigFile', kind: 'string', help: 'MonitoringConfig text-format file (enables the Prometheus endpoint on the REST port)' },
  { name: 'max_num_load_retries', key: 'maxNumLoadRetries', kind: 'int', ...COUNT, help: 'how many times a version that failed to load is retried' },
  { name: 'load_retry_interval_micros', key: 'loadRetryIntervalMicros', kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER, help: 'microseconds between those retries' },
  { name: 'allow_version_labels_for_unavailable_models', key: 'allowVersionLabelsForUnavailableModels', kind: 'bool', help: 'allow a version label to point at a version that is not loaded yet' },
  { name: 'grpc_channel_arguments', key: 'grpcChannelArguments', kind: 'string', help: 'comma-separated key=value gRPC server arguments, e.g. grpc.max_connection_age_ms=2000; those grpc-js knows take effect, the others are logged and ignored' },
  { name: 'saved_model_tags', key: 'savedModelTags', kind: 'string', help: 'comma-separated tags of the MetaGraphDef to load from each SavedModel' },
  { name: 'enable_signature_method_name_check', key: 'enableSignatureMethodNameCheck', kind: 'bool', help: "hold Classify/Regress/Predict to signatures whose method_name is theirs (off: any signature with the right inputs serves, as in TF Serving)" },
  { name: 'version', key: 'version', kind: 'bool', help: 'print the version and exit' },
  ...INERT_SPECS,
  { name: 'bind_address', key: 'bindAddress', kind: 'string', own: true, help: 'address the gRPC and REST ports listen on; tensorflow_model_server always binds every interface (0.0.0.0), use 127.0.0.1 to accept local clients only' },
  { name: 'grpc_max_message_bytes', key: 'grpcMaxMessageBytes', kind: 'int', min: 1024, max: 2 ** 31 - 1, own: true, help: 'largest gRPC request or response in bytes' },
  { name: 'rest_api_max_body_bytes', key: 'restApiMaxBodyBytes', kind: 'int', min: 1024, max: 2 ** 31 - 1, own: true, help: 'largest REST request body in bytes, after gzip decoding (larger: 413)' },
  { name: 'engine_workers', key: 'engineWorkers', kind: 'int', min: 0, max: 64, own: true, help: 'worker threads that decode, validate, run and encode Predict requests (default: cores - 1, 1 to 4); 0 does it on the main thread (TensorFlow itself never runs there)' },
  { name: 'front_door_threads', key: 'frontDoorThreads', kind: 'int', min: 0, max: 64, own: true, help: 'threads that serve the gRPC and REST ports themselves (HTTP/2 and HTTP/1 framing, and Predict from request bytes to answer bytes), so the main thread only leases versions and keeps metrics (default: cores - 1, 1 to 4); 0 serves the ports on the main thread' },
  { name: 'shutdown_grace_seconds', key: 'shutdownGraceSeconds', kind: 'int', ...COUNT, own: true, help: 'on SIGTERM/SIGINT, how long in-flight requests may take to finish' },
  { name: 'serve_during_load', key: 'serveDuringLoad', kind: 'bool', own: true, help: 'open the ports before the configured models have loaded (tensorflow_model_server opens them after): /healthz answers at once and /readyz says 503 until every model is AVAILABLE; for Kubernetes startup and liveness probes during long loads' },
  { name: 'request_decode_factor', key: 'requestDecodeFactor', kind: 'int', min: 1, max: 1024, own: true, help: "a request's decoded tensors may take this many times its size in bytes (gRPC message or REST body)" },
  { name: 'request_decode_floor_bytes', key: 'requestDecodeFloorBytes', kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER, own: true, help: 'decoded bytes any request may take whatever its size (a few values broadcast over a shape)' },
  { name: 'request_decode_max_bytes', key: 'requestDecodeMaxBytes', kind: 'int', min: 1024, max: Number.MAX_SAFE_INTEGER, own: true, help: 'decoded bytes no single request may pass' },
  { name: 'op_libraries', key: 'opLibraries', kind: 'string', own: true, help: "comma-separated paths of op libraries (.so files registering custom ops and kernels) to load before any model; TF Text's ops are loaded without it, as tensorflow_model_server links them in" },
  { name: 'demo', key: 'demo', kind: 'bool', own: true, help: 'serve the demo model (.fixtures/gaofei_cnn, made by `npm start`) and print commands that query it' },
];

const BY_NAME = new Map(FLAG_SPECS.map((spec) => [spec.name, spec]));

/** A command line tfserve refuses; the CLI exits with code 2. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export type ParsedCommandLine = { help: true } | { help: false; flags: ServerFlags; given: ReadonlySet<keyof ServerFlags> };

function parseBool(spec: FlagSpec, text: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new FlagError(`--${spec.name} takes true or false, got '${text}'`);
}

function parseNumber(spec: FlagSpec, text: string): number {
  const pattern = spec.kind === 'int' ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  if (!pattern.test(text)) throw new FlagError(`--${spec.name} takes ${spec.kind === 'int' ? 'an integer' : 'a number'}, got '${text}'`);
  const value = Number(text);
  if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
    throw new FlagError(`--${spec.name} must be in [${spec.min}, ${spec.max}], got ${text}`);
  }
  return value;
}

function closestFlag(name: string): string | undefined {
  const normalized = name.replace(/-/g, '_');
  if (BY_NAME.has(normalized)) return normalized;
  return FLAG_SPECS.find((spec) => spec.name.startsWith(normalized) || normalized.startsWith(spec.name))?.name;
}

/**
 * Parses `--flag=value`, `--flag value` and, for booleans, `--flag`,
 * `--flag=true|false`. Throws FlagError for unknown, malformed and
 * conflicting flags.
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const flags: ServerFlags = { ...DEFAULT_FLAGS };
  const given = new Set<keyof ServerFlags>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h' || arg === '--helpfull') return { help: true };
    const match = /^--?([A-Za-z0-9_-]+)(?:=([\s\S]*))?$/.exec(arg);
    if (!match) throw new FlagError(`unexpected argument '${arg}': tfserve takes only --flag=value arguments (see --help)`);
    const name = match[1]!;
    const spec = BY_NAME.get(name);
    if (!spec) {
      const suggestion = closestFlag(name);
      throw new FlagError(`unknown flag --${name}${suggestion ? ` (did you mean --${suggestion}?)` : ''}; see --help`);
    }
    // A flag given again overrides the earlier one, as in tensorflow_model_server
    // (TF's flag parser reads every argument in turn): a container's fixed
    // flags can be overridden by those after the image name.
    let text = match[2];
    if (text === undefined) {
      const next = argv[i + 1];
      if (spec.kind === 'bool') {
        if (next === 'true' || next === 'false') {
          text = next;
          i++;
        } else {
          text = 'true';
        }
      } else {
        if (next === undefined || next.startsWith('--')) throw new FlagError(`--${name} needs a value (--${name}=VALUE)`);
        text = next;
        i++;
      }
    }
    const value = spec.kind === 'bool' ? parseBool(spec, text) : spec.kind === 'string' ? text : parseNumber(spec, text);
    (flags as unknown as Record<string, unknown>)[spec.key] = value;
    given.add(spec.key);
  }
  // --version prints and exits: no model is needed for it.
  if (!flags.version) checkConflicts(flags, given);
  return { help: false, flags, given };
}

function checkConflicts(flags: ServerFlags, given: ReadonlySet<keyof ServerFlags>): void {
  // With --model_config_file, --model_name and --model_base_path are
  // ignored, as tensorflow_model_server ignores them (a notice says so at
  // start): TF Serving's image passes both and users add a config file.
  if (!flags.modelConfigFile && given.has('modelConfigFilePollWaitSeconds') && flags.modelConfigFilePollWaitSeconds > 0) {
    throw new FlagError('--model_config_file_poll_wait_seconds needs --model_config_file');
  }
  if (flags.demo && (flags.modelConfigFile || flags.modelBasePath)) {
    throw new FlagError('--demo serves its own model: drop --model_base_path/--model_config_file');
  }
  if (!flags.demo && !flags.modelConfigFile && !flags.modelBasePath) {
    throw new FlagError('no model to serve: give --model_base_path (with --model_name) or --model_config_file');
  }
  if (flags.batchingParametersFile && !flags.enableBatching) {
    throw new FlagError('--batching_parameters_file needs --enable_batching');
  }
  if (flags.busyBatchTimeoutMicros >= 0 && !flags.enableBatching) {
    throw new FlagError('--busy_batch_timeout_micros needs --enable_batching');
  }
  if (flags.tensorflowSessionParallelism > 0 && (flags.tensorflowIntraOpParallelism > 0 || flags.tensorflowInterOpParallelism > 0)) {
    throw new FlagError('set either --tensorflow_session_parallelism or --tensorflow_intra_op_parallelism/--tensorflow_inter_op_parallelism, not both');
  }
  if (flags.restApiPort !== 0 && flags.restApiPort === flags.port) {
    throw new FlagError(`--rest_api_port and --port are both ${flags.port}: gRPC and REST need different ports`);
  }
  if (!flags.modelName) throw new FlagError('--model_name cannot be empty');
  // Serving plaintext where TLS was asked for would be worse than not starting.
  if (flags.sslConfigFile) throw new FlagError('--ssl_config_file: tfserve serves plaintext gRPC only; terminate TLS in front of it (a proxy or a service mesh)');
  if (flags.useAltsCredentials) throw new FlagError('--use_alts_credentials: tfserve serves plaintext gRPC only');
}

/** One line for each given flag that tfserve accepts but ignores, saying why. */
export function inertFlagNotices(given: ReadonlySet<keyof ServerFlags>, flags?: Pick<ServerFlags, 'modelConfigFile'>): string[] {
  const notices = FLAG_SPECS.filter((spec) => spec.inert !== undefined && given.has(spec.key)).map((spec) => `--${spec.name} has no effect in tfserve: ${spec.inert}`);
  if (flags?.modelConfigFile) {
    for (const [key, name] of [['modelName', 'model_name'], ['modelBasePath', 'model_base_path']] as const) {
      if (given.has(key)) notices.push(`--${name} has no effect with --model_config_file: the config file names every model, as in tensorflow_model_server`);
    }
  }
  return notices;
}

function formatDefault(spec: FlagSpec): string {
  const value = DEFAULT_FLAGS[spec.key];
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

export function helpText(): string {
  const lines = [
    'usage: tfserve --model_base_path=DIR [--model_name=NAME] [flags]',
    '       tfserve --model_config_file=FILE [flags]',
    '',
    "Serves TensorFlow SavedModels over TensorFlow Serving's gRPC and REST APIs.",
    "Flags have tensorflow_model_server's names, meaning and defaults; those marked",
    "[tfserve] are tfserve's own. Booleans: --flag, --flag=true, --flag=false.",
    '',
    'Flags:',
  ];
  for (const spec of FLAG_SPECS) {
    lines.push(`  --${spec.name}=${spec.kind.toUpperCase()}  (default: ${formatDefault(spec)})${spec.own ? ' [tfserve]' : ''}`);
    lines.push(`      ${spec.help}`);
  }
  lines.push('  --help', '      print this help and exit');
  lines.push(
    '',
    'HTTP endpoints besides /v1/models/...: /healthz (liveness: 200 while the process runs),',
    '/readyz (readiness: 200 once every configured model has an AVAILABLE version, else 503),',
    'and the Prometheus path from --monitoring_config_file when enabled.',
  );
  return lines.join('\n');
}
