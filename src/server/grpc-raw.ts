// What tfserve's gRPC services (grpc.ts, v2/grpc.ts) share: methods whose
// messages stay raw bytes through grpc-js (the handlers decode and encode
// them), and the shape of a unary handler.
import type * as grpc from '@grpc/grpc-js';

import type { CallAbort } from './call-abort';

/**
 * A unary handler: the request's bytes in, the model's name (for metrics)
 * and the response's bytes out. `recorded`: the call was passed on to a
 * server that counts it itself (a front-door thread's, see front-door/).
 */
export type RawUnaryHandler = (request: Buffer, call: grpc.ServerUnaryCall<Buffer, Uint8Array>, abort: CallAbort) => Promise<{ model: string; response: Uint8Array; recorded?: boolean }>;

/** A gRPC method as a server registered it. */
export interface GrpcMethod {
  /** /package.Service/Method */
  path: string;
  requestStream: boolean;
  responseStream: boolean;
}

function identity(buffer: Buffer): Buffer {
  return buffer;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The definition of `/service/method` with raw-bytes (de)serializers; `stream` for a bidirectional one. */
export function rawMethodDefinition(service: string, method: string, stream = false): grpc.MethodDefinition<Buffer, Uint8Array> {
  return {
    path: `/${service}/${method}`,
    requestStream: stream,
    responseStream: stream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: toBuffer,
    responseDeserialize: identity,
  };
}
