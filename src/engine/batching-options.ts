/**
 * Request batching, with TF Serving's BatchingParameters names and meaning
 * (camelCase here; snake_case in a TF Serving batching_parameters file).
 */
export interface BatchingOptions {
  /** Largest batch the model runs at once (rows along dim 0). Default 1000. */
  maxBatchSize?: number;
  /** How long a batch waits to fill up once its first request arrived. Default 0: run as soon as a batch thread is free. */
  batchTimeoutMicros?: number;
  /**
   * tfserve's own (no TF Serving equivalent): how long a batch that is not
   * full may wait to fill while another batch of the same queue is running.
   * Default: batchTimeoutMicros. With batchTimeoutMicros 0, a request to an
   * idle model still runs at once, while under load a free batch thread waits
   * (up to this long, or until the running batch ends) for a fuller batch
   * instead of starting whatever rows have arrived: with a batch thread per
   * core, batches then fill up rather than shrinking to the few rows that
   * arrived since the last one started.
   */
  busyBatchTimeoutMicros?: number;
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
