/**
 * Request batching, with TF Serving's BatchingParameters names and meaning
 * (camelCase here; snake_case in a TF Serving batching_parameters file).
 */
export interface BatchingOptions {
  /** Largest batch the model runs at once (rows along dim 0). Default 1000. */
  maxBatchSize?: number;
  /** How long a batch waits to fill up once its first request arrived. Default 0: run as soon as a batch thread is free. */
  batchTimeoutMicros?: number;
  /** Threads running batches concurrently. Default: the number of CPU cores. */
  numBatchThreads?: number;
  /** Batches allowed to wait; beyond that requests fail at once with UNAVAILABLE. Default 10. */
  maxEnqueuedBatches?: number;
  /** Batch sizes the model may see; batches are padded up to the next one. The last must equal maxBatchSize. */
  allowedBatchSizes?: number[];
  /** Split a request larger than maxBatchSize across batches (else INVALID_ARGUMENT). Default false. */
  enableLargeBatchSplitting?: boolean;
  /** Pad inputs whose non-batch dims differ to a common shape so they can share a batch. Default false. */
  padVariableLengthInputs?: boolean;
}
