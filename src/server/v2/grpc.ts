// inference.GRPCInferenceService (the Open Inference Protocol v2 over gRPC),
// registered by grpc.ts on the same grpc-js server as TF Serving's
// services. Requests arrive as raw bytes: ModelInferRequest is decoded by
// hand under the request's DecodeBudget (serving/v2/grpc-wire.ts), the
// small messages are checked before protobufjs decodes them, so hostile
// input is INVALID_ARGUMENT, never a crash. ModelStreamInfer answers each
// request of the stream in order, errors in error_message as v2 gives them.
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

import { type StatusCode, TfServeError } from '../../engine/errors';
import type { DecodeLimits } from '../../serving/decode-limits';
import type { ModelManager } from '../../serving/model-manager';
import { decodeSmall, encodeSmall, readInferModel } from '../../serving/v2/grpc-wire';
import { leaseModel, modelMetadata, modelReady, serverMetadata } from '../../serving/v2/infer';
import { type GiveUp, runJob } from '../hot-path/run';
import { type GrpcJobPayload, jobTarget } from '../hot-path/target';
import { requestBudget } from '../../serving/wire';
import { type RawUnaryHandler, rawMethodDefinition } from '../grpc-raw';
import { serverVersion } from './version';

export const V2_SERVICE = 'inference.GRPCInferenceService';

export interface V2GrpcContext {
  manager: ModelManager;
  decodeLimits: Readonly<DecodeLimits>;
  /** The largest response grpc-js will send. */
  maxResponseBytes: number;
}


interface ModelRef {
  name?: string;
  version?: string;
}

/**
 * One ModelInfer, as TF Serving's Predict runs (grpc.ts): here only the
 * model's name and version are read, to lease it; the request is decoded,
 * run and its answer encoded by the `v2GrpcInfer` job where the version runs
 * (hot-path/v2-grpc-infer.ts).
 */
async function modelInfer(context: V2GrpcContext, bytes: Uint8Array, giveUp: GiveUp): Promise<{ model: string; response: Uint8Array }> {
  const { name, version } = readInferModel(bytes);
  const lease = leaseModel(context.manager, name, version);
  try {
    // A buffer of its own, moved to the worker (grpc-js's message is a view on a larger one).
    const own = new Uint8Array(bytes);
    const payload: GrpcJobPayload = { bytes: own, limits: context.decodeLimits, maxResponseBytes: context.maxResponseBytes, target: jobTarget(lease) };
    return { model: name, response: await runJob(lease, 'v2GrpcInfer', payload, giveUp, [own.buffer as ArrayBuffer]) };
  } finally {
    lease.release();
  }
}

/** The service's unary methods; grpc.ts wraps them (metrics, cancellation, status mapping) as its own. */
export function v2UnaryHandlers(context: V2GrpcContext): Record<string, RawUnaryHandler> {
  const { manager, decodeLimits } = context;
  const small = <T>(type: string, bytes: Buffer) => decodeSmall<T>(type, bytes, requestBudget(bytes.length, decodeLimits));
  return {
    ServerLive: async (bytes) => {
      small('ServerLiveRequest', bytes);
      return { model: '', response: encodeSmall('ServerLiveResponse', { live: true }) };
    },
    ServerReady: async (bytes) => {
      small('ServerReadyRequest', bytes);
      return { model: '', response: encodeSmall('ServerReadyResponse', { ready: manager.isReady() }) };
    },
    ModelReady: async (bytes) => {
      const { name = '', version = '' } = small<ModelRef>('ModelReadyRequest', bytes);
      return { model: name, response: encodeSmall('ModelReadyResponse', { ready: modelReady(manager, name, version) }) };
    },
    ServerMetadata: async (bytes) => {
      small('ServerMetadataRequest', bytes);
      return { model: '', response: encodeSmall('ServerMetadataResponse', serverMetadata(serverVersion())) };
    },
    ModelMetadata: async (bytes) => {
      const { name = '', version = '' } = small<ModelRef>('ModelMetadataRequest', bytes);
      return { model: name, response: encodeSmall('ModelMetadataResponse', { ...modelMetadata(manager, name, version) }) };
    },
    ModelInfer: (bytes, _call, abort) => modelInfer(context, bytes, abort),
  };
}

/** Requests of one stream received and not yet answered, past which the stream stops reading. */
const MAX_QUEUED = 32;

/** ModelStreamInferResponse: error_message (1) or infer_response (2). */
function streamResponse(error: string | null, response: Uint8Array | null): Uint8Array {
  const writer = protobuf.Writer.create();
  if (error !== null) writer.uint32((1 << 3) | 2).string(error);
  if (response !== null) writer.uint32((2 << 3) | 2).bytes(response);
  return writer.finish();
}

/** ModelStreamInfer's definition and implementation; `onRequest` sees one record per request of the stream. */
export function v2StreamMethod(
  context: V2GrpcContext,
  onRequest?: (info: { service: string; method: string; model: string; code: 'OK' | StatusCode; seconds: number }) => void,
): { definition: grpc.MethodDefinition<Buffer, Uint8Array>; handler: (call: grpc.ServerDuplexStream<Buffer, Uint8Array>) => void } {
  const definition = rawMethodDefinition(V2_SERVICE, 'ModelStreamInfer', true);
  const handler = (call: grpc.ServerDuplexStream<Buffer, Uint8Array>) => {
    const controller = new AbortController();
    let ended = false;
    call.on('cancelled', () => ended || controller.abort(new TfServeError('CANCELLED', 'the client cancelled the stream')));
    // Answers go out in the order the requests came, one inference at a
    // time per stream; past MAX_QUEUED requests waiting, the stream stops
    // reading (HTTP/2 flow control then holds the client back).
    let chain: Promise<void> = Promise.resolve();
    let queued = 0;
    call.on('data', (bytes: Buffer) => {
      const started = process.hrtime.bigint();
      if (++queued >= MAX_QUEUED) call.pause();
      chain = chain.then(async () => {
        let model = '';
        let code: 'OK' | StatusCode = 'OK';
        try {
          const result = await modelInfer(context, bytes, { signal: controller.signal });
          model = result.model;
          if (!controller.signal.aborted) call.write(streamResponse(null, result.response));
        } catch (error) {
          const failure = TfServeError.from(error);
          code = failure.code;
          if (!controller.signal.aborted) call.write(streamResponse(failure.message, null));
        }
        onRequest?.({ service: V2_SERVICE, method: 'ModelStreamInfer', model, code, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
        if (queued-- === MAX_QUEUED) call.resume();
      });
    });
    call.on('end', () => {
      void chain.then(() => {
        ended = true;
        if (!controller.signal.aborted) call.end();
      });
    });
    call.on('error', () => controller.abort(new TfServeError('CANCELLED', 'the stream failed')));
  };
  return { definition, handler };
}
