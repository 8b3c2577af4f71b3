import { protoType } from './proto';

/** How TensorFlow runs a loaded model; serialized into a tensorflow.ConfigProto. */
export interface SessionOptions {
  /** Threads for one op's inner parallelism; 0 lets TF choose. */
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
  gpu?: {
    /** Comma-separated GPU ids TF may use, e.g. "0,1". */
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

export function encodeConfigProto(options: SessionOptions = {}): Uint8Array {
  const fraction = options.gpu?.memoryFraction;
  if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) {
    throw new RangeError(`session.gpu.memoryFraction must be in (0, 1], got ${fraction}`);
  }
  const ConfigProto = protoType('tensorflow.ConfigProto');
  const message = ConfigProto.fromObject({
    intraOpParallelismThreads: checkCount('intraOpThreads', options.intraOpThreads, 0, 0),
    interOpParallelismThreads: checkCount('interOpThreads', options.interOpThreads, -1, -1),
    allowSoftPlacement: options.allowSoftPlacement ?? true,
    logDevicePlacement: options.logDevicePlacement ?? false,
    gpuOptions: {
      perProcessGpuMemoryFraction: fraction ?? 0,
      allowGrowth: options.gpu?.allowGrowth ?? false,
      visibleDeviceList: options.gpu?.visibleDevices ?? '',
    },
  });
  return ConfigProto.encode(message).finish();
}
