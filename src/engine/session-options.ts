import { protoType } from './proto';

/** How TensorFlow runs a loaded model; serialized into a tensorflow.ConfigProto. */
export interface SessionOptions {
  /**
   * Threads for one op's inner parallelism; 0 lets TF choose. TF keeps one
   * intra-op pool per process, sized by the first session it creates: later
   * models share it whatever they ask for, unless the environment has
   * TF_OVERRIDE_GLOBAL_THREADPOOL=1 before the first model loads, which gives
   * every session a pool of its own, sized as it asks.
   */
  intraOpThreads?: number;
  /**
   * Threads for running independent ops of one run in parallel; 0 lets TF
   * choose. Default -1: ops run on the thread that runs the request (tfserve's
   * run and batch threads supply the concurrency), which saves two thread
   * hand-offs per run: tens of microseconds, the whole cost of a small model.
   */
  interOpThreads?: number;
  /** Place ops on a device that exists when the one asked for does not (default true, so a model exported for GPU loads on a CPU build). */
  allowSoftPlacement?: boolean;
  logDevicePlacement?: boolean;
  /**
   * XLA JIT on this model's graph (TF Serving's --xla_cpu_compilation_enabled):
   * TF clusters the ops XLA can compile, on CPU too, and runs each cluster as
   * one compiled kernel (ConfigProto global_jit_level ON_1 with
   * cpu_global_jit). Compiles on the first run of each input shape, so
   * warm up with the batch sizes you serve. Default false. With oneDNN on
   * (TensorFlow's default on x86), TF rewrites most CPU ops to oneDNN kernels
   * before clustering and little is left for XLA: see docs/benchmarks.md.
   */
  xla?: boolean;
  /**
   * Give this model's session an inter-op pool of its own instead of the
   * process-wide one every session shares (ConfigProto
   * use_per_session_threads); the intra-op pool stays shared (see
   * intraOpThreads). Default false.
   */
  usePerSessionThreads?: boolean;
  /** Run Grappler, TF's graph optimizer, when the session first runs a graph (default true; false sets disable_meta_optimizer). */
  graphOptimizer?: boolean;
  /**
   * Most devices of a type the session may create (ConfigProto.device_count),
   * e.g. `{ GPU: 0 }` to run on the CPU on a GPU machine, or `{ CPU: 2 }`
   * for two CPU devices. Unnamed types: TF's default (every device found).
   */
  deviceCount?: Record<string, number>;
  gpu?: {
    /** Comma-separated GPU ids TF may use, e.g. "0,1" (default: all). */
    visibleDevices?: string;
    /** Grow GPU memory as needed instead of taking it all up front. */
    allowGrowth?: boolean;
    /** Fraction (0..1] of each GPU's memory to use. */
    memoryFraction?: number;
  };
}

function checkCount(name: string, value: number | undefined, fallback: number, minimum: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < minimum) throw new RangeError(`session.${name} must be an integer >= ${minimum}, got ${value}`);
  return value;
}

function checkFlag(name: string, value: boolean | undefined, fallback = false): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`session.${name} must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

const INT32_MAX = 2 ** 31 - 1;

/** The device_count map, its keys sorted: the same counts always encode to the same bytes (the session registry's key). */
function checkDeviceCount(counts: Record<string, number> | undefined): Record<string, number> {
  if (counts === undefined) return {};
  if (typeof counts !== 'object' || counts === null || Array.isArray(counts)) throw new TypeError('session.deviceCount must be an object of device type -> count');
  const sorted: Record<string, number> = Object.create(null);
  for (const type of Object.keys(counts).sort()) {
    const count = counts[type];
    if (type === '') throw new RangeError('session.deviceCount: a device type must not be empty');
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > INT32_MAX) {
      throw new RangeError(`session.deviceCount.${type} must be an integer >= 0, got ${String(count)}`);
    }
    sorted[type] = count;
  }
  return sorted;
}

export function encodeConfigProto(options: SessionOptions = {}): Uint8Array {
  const fraction = options.gpu?.memoryFraction;
  if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) {
    throw new RangeError(`session.gpu.memoryFraction must be in (0, 1], got ${fraction}`);
  }
  const visible = options.gpu?.visibleDevices;
  // TF checks the list only on a machine with GPUs; check it everywhere so a typo fails on the laptop too.
  if (visible !== undefined && (typeof visible !== 'string' || !/^(\d+(,\d+)*)?$/.test(visible))) {
    throw new RangeError(`session.gpu.visibleDevices must be comma-separated GPU ids such as "0,1", got ${JSON.stringify(visible)}`);
  }
  const ConfigProto = protoType('tensorflow.ConfigProto');
  const message = ConfigProto.fromObject({
    deviceCount: checkDeviceCount(options.deviceCount),
    intraOpParallelismThreads: checkCount('intraOpThreads', options.intraOpThreads, 0, 0),
    interOpParallelismThreads: checkCount('interOpThreads', options.interOpThreads, -1, -1),
    allowSoftPlacement: options.allowSoftPlacement ?? true,
    logDevicePlacement: options.logDevicePlacement ?? false,
    usePerSessionThreads: checkFlag('usePerSessionThreads', options.usePerSessionThreads),
    graphOptions: {
      optimizerOptions: checkFlag('xla', options.xla) ? { globalJitLevel: 'ON_1', cpuGlobalJit: true } : {},
      rewriteOptions: { disableMetaOptimizer: checkFlag('graphOptimizer', options.graphOptimizer, true) === false },
    },
    gpuOptions: {
      perProcessGpuMemoryFraction: fraction ?? 0,
      allowGrowth: options.gpu?.allowGrowth ?? false,
      visibleDeviceList: options.gpu?.visibleDevices ?? '',
    },
  });
  return ConfigProto.encode(message).finish();
}
