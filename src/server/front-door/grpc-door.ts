// A front-door thread's gRPC server: grpc-js on connections this thread's
// event loop accepts from the shared listening socket. Predict runs here
// from bytes to bytes (the hot path's own job, hot-path/grpc-predict.ts,
// on a version the main thread leased); every other method is passed to the
// main thread's server (grpc-proxy.ts).
import net from 'node:net';

import * as grpc from '@grpc/grpc-js';

import { runJobHere } from '../../engine/thread-models';
import { readingWire } from '../../serving/proto-wire';
import { decodePredictModelSpec, requestBudget } from '../../serving/wire';
import { unaryService } from '../grpc';
import type { RawUnaryHandler } from '../grpc-raw';
import type { GrpcPredictPayload } from '../hot-path/grpc-predict';
import { GrpcUpstream } from './grpc-proxy';
import type { MainLink } from './main-link';
import type { FrontDoorConfig } from './protocol';

const PREDICT_SERVICE = 'tensorflow.serving.PredictionService';
const PREDICT_PATH = `/${PREDICT_SERVICE}/Predict`;

export interface Door {
  /** Stops accepting, lets calls finish for up to graceMs, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

function predictHandler(config: FrontDoorConfig, link: MainLink, upstream: GrpcUpstream): RawUnaryHandler {
  const { decodeLimits, maxResponseBytes } = config;
  return async (bytes, call, abort) => {
    // As the main thread's handler (grpc.ts): model_spec alone picks the version.
    const modelSpec = readingWire('PredictRequest', () => decodePredictModelSpec(bytes, requestBudget(bytes.length, decodeLimits)));
    const grant = await link.lease(modelSpec);
    if ('proxy' in grant) return { model: modelSpec.name, response: await upstream.unary(PREDICT_PATH, bytes, call), recorded: true };
    // On this thread: nothing to copy or move, the job reads grpc-js's buffer.
    const payload: GrpcPredictPayload = { bytes, limits: decodeLimits, maxResponseBytes, target: grant.target };
    const result = await link.runOn(grant, () => runJobHere(grant.ticket, 'grpcPredict', payload, abort.cancelFlag));
    return { model: modelSpec.name, response: result.value as Uint8Array };
  };
}

export async function startGrpcDoor(config: FrontDoorConfig, link: MainLink): Promise<Door> {
  const server = new grpc.Server(config.grpcOptions as grpc.ServerOptions);
  const upstream = new GrpcUpstream(config.grpcUpstream);
  for (const method of config.grpcMethods) {
    if (method.path === PREDICT_PATH) {
      const predict = unaryService(PREDICT_SERVICE, { Predict: predictHandler(config, link, upstream) }, (record) => link.send({ kind: 'grpc', record }));
      server.addService(predict.definition, predict.implementation);
    } else {
      const name = method.path.slice(method.path.lastIndexOf('/') + 1);
      const { definition, handler } = upstream.method(method);
      server.addService({ [name]: definition }, { [name]: handler });
    }
  }
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const listener = net.createServer((socket) => injector.injectConnection(socket));
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ fd: config.grpcFd }, () => {
      listener.off('error', reject);
      resolve();
    });
  });
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
