// The gRPC front door, wire-compatible with TF Serving:
// tensorflow.serving.PredictionService, tensorflow.serving.ModelService and
// grpc.health.v1.Health, on @grpc/grpc-js; beside them the Open Inference
// Protocol v2's inference.GRPCInferenceService (./v2/grpc.ts).
//
// Requests arrive as raw bytes and are decoded in the handlers, so that a
// malformed message is answered INVALID_ARGUMENT with a reason (not grpc-js's
// generic INTERNAL), and Predict's tensors go straight from the request
// buffer into typed arrays (see serving/tensor-proto.ts).
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

import { TfServeError, invalidArgument, type StatusCode } from '../engine/errors';
import { modelConfigsFromServerConfig } from '../serving/config';
import { classify, modelMetadata, modelStatus, multiInference, onTarget, regress, type ModelSpecInput } from '../serving/inference';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../serving/decode-limits';
import type { ModelManager } from '../serving/model-manager';
import { readingWire } from '../serving/proto-wire';
import {
  classificationResponseObject,
  decodeExamplesRequest,
  decodeMessage,
  decodeMetadataRequest,
  decodeMultiInferenceRequest,
  decodePredictModelSpec,
  encodeMessage,
  modelSpecFromObject,
  multiInferenceResponseObject,
  readBytesField,
  regressionResponseObject,
  requestBudget,
  writeModelSpec,
} from '../serving/wire';
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES } from './flags';
import { V2_SERVICE, v2StreamMethod, v2UnaryHandlers } from './v2/grpc';
import { CallAbort } from './call-abort';
import { type GrpcMethod, type RawUnaryHandler, rawMethodDefinition } from './grpc-raw';
import { runJob } from './hot-path/run';
import { type GrpcJobPayload, jobTarget } from './hot-path/target';

const SIGNATURE_DEF_FIELD = 'signature_def';
const SIGNATURE_DEF_MAP_TYPE_URL = 'type.googleapis.com/tensorflow.serving.SignatureDefMap';

export interface GrpcRequestInfo {
  service: string;
  method: string;
  model: string;
  code: 'OK' | StatusCode;
  seconds: number;
}

export interface GrpcServerOptions {
  manager: ModelManager;
  /** host:port (port 0 picks a free one) or unix:/path. */
  address: string;
  /** Largest request or response message, in bytes. */
  maxMessageBytes?: number;
  /** grpc-js server options from --grpc_channel_arguments; they override maxMessageBytes, as in TF Serving. */
  channelOptions?: grpc.ServerOptions;
  /** Memory one request's decoded tensors may take (default DEFAULT_DECODE_LIMITS). */
  decodeLimits?: DecodeLimits;
  /** Called once per finished call (metrics). */
  onRequest?: (info: GrpcRequestInfo) => void;
}

export interface GrpcServer {
  /** The bound TCP port (0 for a unix socket). */
  port: number;
  /** Every method the server answers (front-door threads pass the ones they do not run to it). */
  methods: GrpcMethod[];
  /** Stops accepting calls, lets running ones finish for up to graceMs, then cuts the rest. */
  close(graceMs: number): Promise<void>;
  /**
   * Reports NOT_SERVING (health) while it still serves, until close(): the
   * server behind the front-door threads, which pass calls on to it until
   * they have drained.
   */
  beginDrain(): void;
}

type Handler = RawUnaryHandler;

/** Writes a GetModelMetadataResponse: model_spec, metadata{"signature_def": Any(SignatureDefMap)}. */
function encodeMetadataResponse(spec: { name: string; version: number }, signatureDefMap: Uint8Array): Uint8Array {
  const writer = protobuf.Writer.create();
  writeModelSpec(writer, 1, { ...spec, signatureName: '' });
  writer.uint32((2 << 3) | 2).fork();
  writer.uint32((1 << 3) | 2).string(SIGNATURE_DEF_FIELD);
  writer.uint32((2 << 3) | 2).fork();
  writer.uint32((1 << 3) | 2).string(SIGNATURE_DEF_MAP_TYPE_URL);
  writer.uint32((2 << 3) | 2).bytes(signatureDefMap);
  writer.ldelim();
  writer.ldelim();
  return writer.finish();
}

interface HandlerContext {
  manager: ModelManager;
  decodeLimits: Readonly<DecodeLimits>;
  /** The largest response grpc-js will send. */
  maxResponseBytes: number;
}

function predictionHandlers({ manager, decodeLimits, maxResponseBytes }: HandlerContext): Record<string, Handler> {
  return {
    Predict: async (bytes, _call, abort) => {
      // The hot path: here only model_spec is read, to lease the version;
      // the request is decoded, run and its answer encoded by the engine
      // (hot-path/grpc-predict.ts), on its worker threads.
      const modelSpec = readingWire('PredictRequest', () => decodePredictModelSpec(bytes, requestBudget(bytes.length, decodeLimits)));
      const response = await onTarget(manager, modelSpec, (target) => {
        // Copied into a buffer of its own and moved, never cloned: grpc-js's
        // message is a view on a larger buffer (all of which a clone copies),
        // or, decompressed, a buffer of its own that call.request still needs
        // (a failed call's model name is read from it), so never moved itself.
        const own = new Uint8Array(bytes);
        const payload: GrpcJobPayload = { bytes: own, limits: decodeLimits, maxResponseBytes, target: jobTarget(target) };
        return runJob(target, 'grpcPredict', payload, abort, [own.buffer as ArrayBuffer]);
      });
      return { model: modelSpec.name, response };
    },
    Classify: async (bytes, _call, { signal }) => {
      const request = readingWire('ClassificationRequest', () => decodeExamplesRequest('tensorflow.serving.ClassificationRequest', bytes, requestBudget(bytes.length, decodeLimits)));
      const result = await classify(manager, { ...request, signal });
      return { model: request.modelSpec.name, response: encodeMessage('tensorflow.serving.ClassificationResponse', classificationResponseObject(result)) };
    },
    Regress: async (bytes, _call, { signal }) => {
      const request = readingWire('RegressionRequest', () => decodeExamplesRequest('tensorflow.serving.RegressionRequest', bytes, requestBudget(bytes.length, decodeLimits)));
      const result = await regress(manager, { ...request, signal });
      return { model: request.modelSpec.name, response: encodeMessage('tensorflow.serving.RegressionResponse', regressionResponseObject(result)) };
    },
    MultiInference: async (bytes, _call, { signal }) => {
      const request = readingWire('MultiInferenceRequest', () => decodeMultiInferenceRequest(bytes, requestBudget(bytes.length, decodeLimits)));
      const result = await multiInference(manager, { ...request, signal });
      return { model: request.tasks[0]?.modelSpec.name ?? '', response: encodeMessage('tensorflow.serving.MultiInferenceResponse', multiInferenceResponseObject(result)) };
    },
    GetModelMetadata: async (bytes) => {
      const { modelSpec, metadataFields } = readingWire('GetModelMetadataRequest', () => decodeMetadataRequest(bytes, SIGNATURE_DEF_FIELD, requestBudget(bytes.length, decodeLimits)));
      if (metadataFields.length === 0) throw invalidArgument(`GetModelMetadataRequest must specify at least one metadata_field (supported: ${SIGNATURE_DEF_FIELD})`);
      const result = modelMetadata(manager, modelSpec);
      return { model: modelSpec.name, response: encodeMetadataResponse(result.modelSpec, result.signatureDefMap) };
    },
  };
}

function modelServiceHandlers({ manager, decodeLimits }: HandlerContext): Record<string, Handler> {
  return {
    GetModelStatus: async (bytes) => {
      const request = readingWire('GetModelStatusRequest', () =>
        decodeMessage<{ modelSpec?: Parameters<typeof modelSpecFromObject>[0] }>('tensorflow.serving.GetModelStatusRequest', bytes, requestBudget(bytes.length, decodeLimits)),
      );
      const spec: ModelSpecInput = readingWire('GetModelStatusRequest', () => modelSpecFromObject(request.modelSpec));
      const statuses = modelStatus(manager, spec);
      const response = encodeMessage('tensorflow.serving.GetModelStatusResponse', {
        modelVersionStatus: statuses.map((s) => ({
          version: s.version,
          state: s.state,
          status: { errorCode: s.error.code, errorMessage: s.error.message },
        })),
      });
      return { model: spec.name, response };
    },
    HandleReloadConfigRequest: async (bytes) => {
      const request = readingWire('ReloadConfigRequest', () =>
        decodeMessage<{ config?: Record<string, unknown> }>('tensorflow.serving.ReloadConfigRequest', bytes, requestBudget(bytes.length, decodeLimits)),
      );
      if (!request.config) throw invalidArgument('ReloadConfigRequest has no config');
      const configs = modelConfigsFromServerConfig(request.config, 'ReloadConfigRequest.config');
      await manager.setConfig(configs);
      return { model: '', response: encodeMessage('tensorflow.serving.ReloadConfigResponse', { status: { errorCode: 0, errorMessage: '' } }) };
    },
  };
}

/** grpc-js definitions and implementations of `handlers` (raw bytes, TF status codes, one onRequest per call). */
export function unaryService(
  serviceName: string,
  handlers: Record<string, Handler>,
  onRequest: GrpcServerOptions['onRequest'],
): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const definition: Record<string, grpc.MethodDefinition<Buffer, Uint8Array>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    definition[method] = rawMethodDefinition(serviceName, method);
    implementation[method] = (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
      const started = process.hrtime.bigint();
      const abort = new CallAbort();
      let answered = false;
      // grpc-js also reports 'cancelled' once an answered call's stream closes (a deadline passing cancels too).
      call.on('cancelled', () => answered || abort.abort());
      let model = '';
      const finish = (code: 'OK' | StatusCode) => onRequest?.({ service: serviceName, method, model, code, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      handler(call.request, call, abort).then(
        (result) => {
          answered = true;
          model = result.model;
          callback(null, result.response);
          if (!result.recorded) finish('OK');
        },
        (error: unknown) => {
          answered = true;
          if (isPassedOnError(error)) {
            // Another server answered it (and counted it): its status goes back as it was.
            callback(error);
            return;
          }
          const failure = TfServeError.from(error);
          model = peekModelName(call.request, method);
          // TF's error codes are gRPC's status codes, name for name and number for number.
          callback({ code: grpc.status[failure.code], details: failure.message });
          finish(failure.code);
        },
      );
    };
  }
  return { definition, implementation };
}

/** A gRPC client's error (a call passed on to another server): it has a numeric status code and its own details. */
function isPassedOnError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === 'number' && typeof (error as Partial<grpc.ServiceError>).details === 'string' && (error as Partial<grpc.ServiceError>).metadata instanceof grpc.Metadata;
}

// Field numbers from a request down to its model name, where they are not
// [1, 1] (model_spec.name); [] = no model name.
const MODEL_NAME_FIELDS: Readonly<Record<string, readonly number[]>> = {
  MultiInference: [1, 1, 1], // tasks[0].model_spec.name
  HandleReloadConfigRequest: [],
  // The v2 protocol's requests name the model in their field 1.
  ModelReady: [1],
  ModelMetadata: [1],
  ModelInfer: [1],
  ServerLive: [],
  ServerReady: [],
  ServerMetadata: [],
};

/** Best-effort model name of a request, for metrics of failed calls. */
function peekModelName(bytes: Buffer, method: string): string {
  const fields = MODEL_NAME_FIELDS[method] ?? [1, 1];
  if (fields.length === 0) return '';
  try {
    let message: Uint8Array | null = bytes;
    for (const field of fields) {
      message = readBytesField(message, field);
      if (message === null) return '';
    }
    return Buffer.from(message).toString('utf8');
  } catch {
    return ''; // malformed: no name
  }
}

const HEALTH = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
const OWN_SERVICES = ['grpc.health.v1.Health', 'tensorflow.serving.PredictionService', 'tensorflow.serving.ModelService', V2_SERVICE];

/** SERVING when the server (service "" or one of ours) or the named model can answer. */
function healthOf(manager: ModelManager, service: string): number | null {
  if (service === '' || OWN_SERVICES.includes(service)) return manager.isReady() ? HEALTH.SERVING : HEALTH.NOT_SERVING;
  if (!manager.modelNames().includes(service)) return null;
  try {
    return manager.status(service).some((s) => s.state === 'AVAILABLE') ? HEALTH.SERVING : HEALTH.NOT_SERVING;
  } catch {
    return HEALTH.NOT_SERVING;
  }
}

interface HealthWatch {
  call: grpc.ServerWritableStream<Buffer, Uint8Array>;
  service: string;
  last: number;
}

function healthService(manager: ModelManager): {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Answers every Watch with a last NOT_SERVING and ends it, so that a graceful shutdown need not wait for them. */
  shutdown(): void;
} {
  const service = 'grpc.health.v1.Health';
  const decodeService = (bytes: Buffer) => readingWire('HealthCheckRequest', () => decodeMessage<{ service?: string }>('grpc.health.v1.HealthCheckRequest', bytes).service ?? '');
  const encodeStatus = (status: number) => encodeMessage('grpc.health.v1.HealthCheckResponse', { status });
  const watches = new Set<HealthWatch>();
  let shuttingDown = false;
  const send = (watch: HealthWatch, status: number) => {
    if (status === watch.last) return;
    watch.last = status;
    watch.call.write(encodeStatus(status));
  };
  const update = () => {
    for (const watch of watches) send(watch, healthOf(manager, watch.service) ?? HEALTH.SERVICE_UNKNOWN);
  };
  manager.on('load', update);
  manager.on('unload', update);
  const definition: grpc.ServiceDefinition = {
    Check: rawMethodDefinition(service, 'Check'),
    Watch: { ...rawMethodDefinition(service, 'Watch'), responseStream: true },
  };
  const implementation: grpc.UntypedServiceImplementation = {
    Check: (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
      try {
        const name = decodeService(call.request);
        const status = healthOf(manager, name);
        if (status === null) callback({ code: grpc.status.NOT_FOUND, details: `unknown service or model '${name}'` });
        else callback(null, encodeStatus(status));
      } catch (error) {
        const failure = TfServeError.from(error);
        callback({ code: grpc.status[failure.code], details: failure.message });
      }
    },
    Watch: (call: grpc.ServerWritableStream<Buffer, Uint8Array>) => {
      let name: string;
      try {
        name = decodeService(call.request);
      } catch (error) {
        call.destroy(Object.assign(new Error((error as Error).message), { code: grpc.status.INVALID_ARGUMENT }));
        return;
      }
      const watch: HealthWatch = { call, service: name, last: -1 };
      if (shuttingDown) {
        send(watch, HEALTH.NOT_SERVING);
        call.end();
        return;
      }
      watches.add(watch);
      const forget = () => watches.delete(watch);
      call.on('cancelled', forget);
      call.on('close', forget);
      send(watch, healthOf(manager, name) ?? HEALTH.SERVICE_UNKNOWN);
    },
  };
  const shutdown = () => {
    shuttingDown = true;
    manager.off('load', update);
    manager.off('unload', update);
    for (const watch of watches) {
      send(watch, HEALTH.NOT_SERVING);
      watch.call.end();
    }
    watches.clear();
  };
  return { definition, implementation, shutdown };
}

/** grpc-js's server options from the flags, and the largest response they let it send. */
export function grpcServerOptions(options: Pick<GrpcServerOptions, 'maxMessageBytes' | 'channelOptions'>): { serverOptions: grpc.ServerOptions; maxResponseBytes: number } {
  const serverOptions: grpc.ServerOptions = {
    'grpc.max_receive_message_length': options.maxMessageBytes ?? DEFAULT_GRPC_MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': options.maxMessageBytes ?? DEFAULT_GRPC_MAX_MESSAGE_BYTES,
    ...options.channelOptions,
  };
  // The send limit in effect (a channel argument may have replaced the flag's; -1 is none), which responses are sized against.
  const sendLimit = serverOptions['grpc.max_send_message_length'] as number;
  return { serverOptions, maxResponseBytes: sendLimit < 0 ? Infinity : sendLimit };
}

/** Starts the gRPC server; resolves once it listens. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const { serverOptions, maxResponseBytes } = grpcServerOptions(options);
  const server = new grpc.Server(serverOptions);
  const context: HandlerContext = { manager: options.manager, decodeLimits: options.decodeLimits ?? DEFAULT_DECODE_LIMITS, maxResponseBytes };
  const prediction = unaryService('tensorflow.serving.PredictionService', predictionHandlers(context), options.onRequest);
  const modelService = unaryService('tensorflow.serving.ModelService', modelServiceHandlers(context), options.onRequest);
  const health = healthService(options.manager);
  // The v2 protocol: unary methods wrapped as ours, plus its bidirectional ModelStreamInfer.
  const v2 = unaryService(V2_SERVICE, v2UnaryHandlers(context), options.onRequest);
  const v2Stream = v2StreamMethod(context, options.onRequest);
  server.addService(prediction.definition, prediction.implementation);
  server.addService(modelService.definition, modelService.implementation);
  server.addService({ ...v2.definition, ModelStreamInfer: v2Stream.definition }, { ...v2.implementation, ModelStreamInfer: v2Stream.handler });
  server.addService(health.definition, health.implementation);
  const methods = [prediction.definition, modelService.definition, v2.definition, { ModelStreamInfer: v2Stream.definition }, health.definition].flatMap((definition) =>
    Object.values(definition).map(({ path, requestStream, responseStream }) => ({ path, requestStream, responseStream })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) {
        health.shutdown();
        reject(new TfServeError('UNAVAILABLE', `cannot listen for gRPC on ${options.address}: ${error.message}`));
      } else {
        resolve(bound);
      }
    });
  });
  let closing: Promise<void> | null = null;
  return {
    port,
    methods,
    beginDrain: () => health.shutdown(),
    close(graceMs: number): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        health.shutdown();
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, Math.max(0, graceMs));
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}
