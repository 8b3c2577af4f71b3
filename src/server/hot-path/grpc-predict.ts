// gRPC Predict as one job: the request's bytes in, the PredictResponse's
// bytes out. Runs where the engine runs (a worker thread), so decoding,
// validation, tensor marshalling and encoding never touch the event loop.
import type { JobContext, JobResult } from '../../engine/engine-jobs';
import { TfServeError } from '../../engine/errors';
import type { Servable } from '../../engine/servable';
import { predictOn } from '../../serving/inference';
import { readingWire } from '../../serving/proto-wire';
import { decodePredictRequest, encodePredictResponse, predictResponseSize, requestBudget } from '../../serving/wire';
import { type GrpcJobPayload, ownedBytes } from './target';

export async function grpcPredict(servable: Servable, payload: GrpcJobPayload, { signal }: JobContext): Promise<JobResult> {
  const { bytes, limits, maxResponseBytes, target } = payload;
  const request = readingWire('PredictRequest', () => decodePredictRequest(bytes, requestBudget(bytes.length, limits)));
  // The main thread resolved the version from this same model_spec; the signature is read here.
  const result = await predictOn(
    { ...target, servable },
    { inputs: request.inputs, outputFilter: request.outputFilter, signal, signatureName: request.modelSpec.signatureName },
  );
  // Sized from the tensors before a buffer is built for it.
  const size = predictResponseSize(result);
  if (size > maxResponseBytes) {
    throw new TfServeError(
      'RESOURCE_EXHAUSTED',
      `the PredictResponse would be ${size} bytes, more than the ${maxResponseBytes} a gRPC message may have (--grpc_max_message_bytes, or grpc.max_send_message_length in --grpc_channel_arguments)`,
    );
  }
  const response = ownedBytes(encodePredictResponse(result));
  return { value: response, transfer: [response.buffer as ArrayBuffer] };
}
