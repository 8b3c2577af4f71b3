// A front-door thread's gRPC server: grpc-js on connections this thread's
// event loop accepts from the shared listening socket. TF Serving's Predict
// and the v2 protocol's ModelInfer run here from bytes to bytes (the hot
// path's own jobs, hot-path/, on a version the main thread leased); every
// other method is passed to the main thread's server (grpc-proxy.ts).
import net from 'node:net';

import * as grpc from '@grpc/grpc-js';

import { runJobHere } from '../../engine/thread-models';
import type { DecodeLimits } from '../../serving/decode-limits';
import type { ModelSpecInput } from '../../serving/inference';
import { readingWire } from '../../serving/proto-wire';
import { readInferModel } from '../../serving/v2/grpc-wire';
import { v2ModelSpec } from '../../serving/v2/infer';
import { decodePredictModelSpec, requestBudget } from '../../serving/wire';
import { unaryService } from '../grpc';
import type { RawUnaryHandler } from '../grpc-raw';
import type { JobName } from '../hot-path/jobs';
import type { GrpcJobPayload } from '../hot-path/target';
import { V2_SERVICE } from '../v2/grpc';
import { GrpcUpstream } from './grpc-proxy';
import type { MainLink } from './main-link';
import { adoptSocket } from './adopt-socket';
import type { FrontDoorConfig } from './protocol';

export interface Door {
  /** Stops accepting, lets calls finish for up to graceMs, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

/** A method this thread runs itself: its job, and how its request names the version (read before anything else is decoded). */
interface HotMethod {
  service: string;
  method: string;
  job: JobName;
  spec(bytes: Uint8Array, limits: DecodeLimits): ModelSpecInput;
}

const HOT_METHODS: readonly HotMethod[] = [
  {
    service: 'tensorflow.serving.PredictionService',
    method: 'Predict',
    job: 'grpcPredict',
    // As the main thread's handler (grpc.ts): model_spec alone picks the version.
    spec: (bytes, limits) => readingWire('PredictRequest', () => decodePredictModelSpec(bytes, requestBudget(bytes.length, limits))),
  },
  {
    service: V2_SERVICE,
    method: 'ModelInfer',
    job: 'v2GrpcInfer',
    spec: (bytes) => {
      const { name, version } = readInferModel(bytes);
      return v2ModelSpec(name, version);
    },
  },
];

function hotHandler(hot: HotMethod, config: FrontDoorConfig, link: MainLink, upstream: GrpcUpstream): RawUnaryHandler {
  const { decodeLimits, maxResponseBytes } = config;
  const path = `/${hot.service}/${hot.method}`;
  return async (bytes, call, abort) => {
    const spec = hot.spec(bytes, decodeLimits);
    const grant = await link.lease(spec);
    if ('proxy' in grant) return { model: spec.name, response: await upstream.unary(path, bytes, call), recorded: true };
    // On this thread: nothing to copy or move, the job reads grpc-js's buffer.
    const payload: GrpcJobPayload = { bytes, limits: decodeLimits, maxResponseBytes, target: grant.target };
    const result = await link.runOn(grant, () => runJobHere(grant.ticket, hot.job, payload, abort.cancelFlag));
    return { model: spec.name, response: result.value as Uint8Array };
  };
}

export async function startGrpcDoor(config: FrontDoorConfig, link: MainLink): Promise<Door> {
  const server = new grpc.Server(config.grpcOptions as grpc.ServerOptions);
  const upstream = new GrpcUpstream(config.grpcUpstream);
  for (const method of config.grpcMethods) {
    const hot = HOT_METHODS.find((h) => method.path === `/${h.service}/${h.method}`);
    if (hot) {
      const own = unaryService(hot.service, { [hot.method]: hotHandler(hot, config, link, upstream) }, (record) => link.send({ kind: 'grpc', record }));
      server.addService(own.definition, own.implementation);
    } else {
      const name = method.path.slice(method.path.lastIndexOf('/') + 1);
      const { definition, handler } = upstream.method(method);
      server.addService({ [name]: definition }, { [name]: handler });
    }
  }
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const listener = net.createServer((socket) => injector.injectConnection(socket));
  await adoptSocket(listener, config.grpcFd);
  return {
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        listener.close();
        const done = () => {
          clearTimeout(timer);
          upstream.close();
          resolve();
        };
        const timer = setTimeout(() => {
          server.forceShutdown();
          done();
        }, Math.max(0, graceMs));
        server.tryShutdown(done);
      }),
  };
}
