// The REST codec: request bodies are parsed and decoded into tensors on a
// small pool of worker threads, so that a large or hostile body holds a
// worker, not the event loop (health checks and other requests keep being
// answered, and the REST timeout fires on time). A body's parse is bounded
// before it starts (json-scan.ts: at most twice its decode limit of heap),
// and each worker's heap is capped above that bound (resourceLimits) as a
// backstop: should a parse still run out, piscina replaces the worker and
// the request is answered 400. (The bound is what protects the process:
// Node may still abort the whole process when a worker's heap runs out while
// the worker is being torn down.) A job given up on (REST timeout, client
// gone) is answered at once and its worker is terminated and replaced, so
// the pool serves the next job at once; V8 does not interrupt a JSON.parse
// call, so a terminated worker still finishes the parse it is in (bounded
// by the body size) before it exits. Small bodies are decoded inline: a
// hand-off costs more than their parse.
//
// The pool is shaped for more than decoding: a job is a tagged message and a
// reply carries its buffers transferred, so encoding responses can move here
// as another job kind.
import os from 'node:os';
import path from 'node:path';

import { Piscina } from 'piscina';

import { TfServeError } from '../../engine/errors';
import type { DecodeLimits } from '../../serving/decode-limits';
import { MAX_PARSE_BYTES_PER_CHAR } from '../json-scan';
import { HttpError } from '../rest-body';
import { type AnyTensor, ownedBuffers } from '../../engine/tensor';
import { type PredictFormat, encodePredictResponse } from '../rest-json';
import type { V2InferResult, V2Parameters } from '../../serving/v2/infer';
import { type InferAnswer, encodeInferAnswer } from '../v2/rest-json';
import { type CodecJob, type CodecReply, type CodecResult, type EncodeJob, type Encoded, type ExamplesJob, type PredictJob, type V2EncodeJob, type V2Encoded, type V2InferJob, runCodecJob, toWire } from './decode';

/** Bodies shorter than this are decoded on the main thread (see docs/SERVING.md for the measurement). */
export const INLINE_BODY_BYTES = 64 * 1024;

/**
 * Answers with fewer elements than this are written on the main thread: a
 * few milliseconds at most (0.2-2 us an element), less than a hand-off.
 */
export const INLINE_ENCODE_ELEMENTS = 16 * 1024;

export interface RestCodecOptions {
  /** The largest body (after Content-Encoding) the server accepts. */
  maxBodyBytes: number;
  limits: DecodeLimits;
  /** Worker threads; default half the cores, 1 to 4. */
  threads?: number;
}

const MiB = 1024 * 1024;

/** Half the cores, 1 to 4: the codec shares the machine with TensorFlow and the event loop. */
export function defaultCodecThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, Math.floor(cores / 2)));
}

export class RestCodec {
  private readonly pool: Piscina;
  readonly heapLimitMb: number;
  private readonly threads: number;
  /** Jobs with piscina now (at most `threads`), and those waiting for one to finish. */
  private busy = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(options: RestCodecOptions) {
    const threads = options.threads ?? defaultCodecThreads();
    this.threads = threads;
    // The most a parse may take (twice the largest decode limit, and never
    // more than the scan's bound for the largest body), plus a quarter for
    // what decoding holds beside it (references to string leaves) and room for the code.
    const { limits, maxBodyBytes } = options;
    const largestDecode = Math.min(limits.maxBytes, Math.max(limits.floorBytes, limits.factor * maxBodyBytes));
    const parseBound = Math.min(2 * largestDecode, MAX_PARSE_BYTES_PER_CHAR * maxBodyBytes);
    this.heapLimitMb = Math.ceil((1.25 * parseBound) / MiB) + 128;
    this.pool = new Piscina({
      filename: path.join(__dirname, 'worker.js'),
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      resourceLimits: { maxOldGenerationSizeMb: this.heapLimitMb },
    });
    // A worker that dies between tasks is replaced; its error must not become an uncaught 'error' event.
    this.pool.on('error', () => undefined);
  }

  /**
   * Decodes a job's body; the body's buffer is transferred to the worker
   * (the caller must not use it afterwards). `signal` gives up on the job:
   * its worker is terminated and the promise rejects with the signal's reason.
   */
  async decode(job: PredictJob | ExamplesJob | V2InferJob, signal?: AbortSignal): Promise<CodecResult> {
    const inline = job.body.byteLength < INLINE_BODY_BYTES;
    return this.run(job, inline, inline ? [] : ownedBuffers([job.body]), signal);
  }

  /**
   * A :predict answer as JSON (rest-json.ts's encodePredictResponse), written
   * off the event loop when it is large: writing millions of elements takes
   * seconds. Output buffers the tensors own whole are transferred (the
   * caller must not use the outputs afterwards).
   */
  async encodePredict(outputs: Record<string, AnyTensor>, format: PredictFormat, maxResponseBytes: number, signal?: AbortSignal): Promise<string> {
    const elements = Object.values(outputs).reduce((total, tensor) => total + tensor.data.length, 0);
    // Inline, the tensors are written as they are: packing strings is for crossing threads.
    if (elements < INLINE_ENCODE_ELEMENTS) return encodePredictResponse(outputs, format, maxResponseBytes);
    const wire = toWire(outputs);
    const job: EncodeJob = { kind: 'encode', outputs: wire, format, maxResponseBytes };
    const result = await this.run(job, false, ownedBuffers(Object.values(wire).map((tensor) => tensor.data)), signal);
    return (result as Encoded).text;
  }

  /**
   * A v2 infer answer (v2/rest-json.ts's encodeInferAnswer), written off the
   * event loop from INLINE_ENCODE_ELEMENTS elements on, as encodePredict's;
   * the outputs' whole buffers are transferred (the caller must not use them afterwards).
   */
  async encodeV2(result: V2InferResult, parameters: V2Parameters, maxResponseBytes: number, signal?: AbortSignal): Promise<InferAnswer> {
    const elements = result.outputs.reduce((total, output) => total + output.tensor.data.length, 0);
    if (elements < INLINE_ENCODE_ELEMENTS) return encodeInferAnswer(result, parameters, maxResponseBytes);
    const wire = toWire(Object.fromEntries(result.outputs.map((output, i) => [String(i), output.tensor])));
    const outputs = result.outputs.map((output, i) => ({ ...output, tensor: wire[String(i)]! }));
    const job: V2EncodeJob = { kind: 'v2encode', result: { ...result, outputs }, parameters, maxResponseBytes };
    const encoded = (await this.run(job, false, ownedBuffers(outputs.map((output) => output.tensor.data)), signal)) as V2Encoded;
    return { json: encoded.json, binary: encoded.binary };
  }

  private async run(job: CodecJob, inline: boolean, transferList: ArrayBuffer[], signal: AbortSignal | undefined): Promise<CodecResult> {
    let reply: CodecReply;
    if (inline) {
      reply = runCodecJob(job);
    } else {
      await this.turn(signal);
      try {
        reply = (await this.pool.run(job, { transferList, ...(signal ? { signal } : {}) })) as CodecReply;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        throw this.workerFailure(error);
      } finally {
        this.busy--;
        this.waiting.shift()?.();
      }
    }
    if (!reply.ok) throw new TfServeError(reply.code, reply.message);
    return reply.value;
  }

  /**
   * Waits until fewer than `threads` jobs are with piscina. Jobs wait here,
   * not in piscina's queue: a job queued there behind one that is then given
   * up on waited for the terminated worker to finish its parse and exit
   * (tens of seconds for a large body on a loaded machine), while a job
   * submitted after the abort gets a new worker at once.
   */
  private turn(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.busy < this.threads) {
      this.busy++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiting.indexOf(go);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal!.reason);
      };
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        this.busy++;
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(go);
    });
  }

  private workerFailure(error: unknown): Error {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new HttpError(
        400,
        'INVALID_ARGUMENT',
        `Decoding the request body needs more than the REST codec's ${this.heapLimitMb} MB of heap: send a smaller or flatter body`,
      );
    }
    return new TfServeError('INTERNAL', `The REST codec worker failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
