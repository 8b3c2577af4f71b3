// The Open Inference Protocol's gRPC ModelInfer as one job: the request's
// bytes in, the ModelInferResponse's bytes out, where the version runs
// (a front-door thread, or an engine worker), as grpc-predict.ts does for
// TF Serving's Predict.
import type { JobContext, JobResult } from '../../engine/engine-jobs';
import { TfServeError } from '../../engine/errors';
import type { Servable } from '../../engine/servable';
import { decodeInferRequest, encodeInferResponse, inferResponseSize } from '../../serving/v2/grpc-wire';
import { inferOn } from '../../serving/v2/infer';
import { requestBudget } from '../../serving/wire';
import { type GrpcJobPayload, ownedBytes } from './target';

export async function v2GrpcInfer(servable: Servable, payload: GrpcJobPayload, { signal }: JobContext): Promise<JobResult> {
  const { bytes, limits, maxResponseBytes, target } = payload;
  const request = decodeInferRequest(bytes, requestBudget(bytes.length, limits));
  const result = await inferOn({ ...target, servable }, request, signal);
  const size = inferResponseSize(result);
  if (size > maxResponseBytes) {
    throw new TfServeError(
      'RESOURCE_EXHAUSTED',
      `the ModelInferResponse would be about ${size} bytes, more than the ${maxResponseBytes} a gRPC message may have (--grpc_max_message_bytes): request fewer outputs`,
    );
  }
  const response = ownedBytes(encodeInferResponse(result));
  return { value: response, transfer: [response.buffer as ArrayBuffer] };
}
