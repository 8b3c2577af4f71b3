// Calls a front-door thread does not run itself, passed to the main
// thread's gRPC server (a unix socket): message bytes, metadata, deadline
// and cancellation forwarded, the status, details and trailers returned as
// they were given. One implementation of every method but Predict, on the
// main thread, whichever door a connection came in by.
import * as grpc from '@grpc/grpc-js';

import type { GrpcMethod } from '../grpc-raw';

const identity = (bytes: Buffer): Buffer => bytes;

// Set by the HTTP/2 layer of each hop itself.
const HOP_HEADERS = ['content-type', 'te', 'user-agent', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'host', 'content-length'];

function forwarded(metadata: grpc.Metadata): grpc.Metadata {
  const copy = metadata.clone();
  for (const key of HOP_HEADERS) copy.remove(key);
  return copy;
}

function statusOf(error: grpc.ServiceError): grpc.StatusObject {
  return { code: error.code, details: error.details, metadata: error.metadata ?? new grpc.Metadata() };
}

/** The main thread's gRPC server, as a client that sends and takes raw message bytes. */
export class GrpcUpstream {
  private readonly client: grpc.Client;

  constructor(address: string) {
    // The door already held every message to the server's limits.
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  }

  close(): void {
    this.client.close();
  }

  /** One unary call, for a handler that decided to pass its call on (a version the main thread must run). */
  unary(path: string, request: Buffer, call: grpc.ServerUnaryCall<Buffer, unknown>): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const upstream = this.client.makeUnaryRequest(path, identity, identity, request, forwarded(call.metadata), { deadline: call.getDeadline() }, (error, value) => (error ? reject(error) : resolve(value!)));
      call.on('cancelled', () => upstream.cancel());
    });
  }

  /** The definition and proxying implementation of `method`. */
  method(method: GrpcMethod): { definition: grpc.MethodDefinition<Buffer, Buffer>; handler: grpc.UntypedHandleCall } {
    const definition: grpc.MethodDefinition<Buffer, Buffer> = {
      path: method.path,
      requestStream: method.requestStream,
      responseStream: method.responseStream,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    };
    const { path } = method;
    const options = (call: { getDeadline(): grpc.Deadline }): grpc.CallOptions => ({ deadline: call.getDeadline() });
    let handler: grpc.UntypedHandleCall;
    if (!method.requestStream && !method.responseStream) {
      handler = (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        this.unary(path, call.request, call).then(
          (value) => callback(null, value),
          (error: grpc.ServiceError) => callback(statusOf(error)),
        );
      };
    } else if (!method.requestStream) {
      handler = (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        const upstream = this.client.makeServerStreamRequest(path, identity, identity, call.request, forwarded(call.metadata), options(call));
        pipeAnswers(upstream, call);
        call.on('cancelled', () => upstream.cancel());
      };
    } else {
      handler = (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        const upstream = this.client.makeBidiStreamRequest(path, identity, identity, forwarded(call.metadata), options(call));
        call.on('data', (message: Buffer) => upstream.write(message));
        call.on('end', () => upstream.end());
        pipeAnswers(upstream, call);
        call.on('cancelled', () => upstream.cancel());
      };
    }
    return { definition, handler };
  }
}

/** Messages and the final status of an upstream stream, written to the caller's. */
function pipeAnswers(upstream: grpc.ClientReadableStream<Buffer>, call: grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>): void {
  let ended = false;
  upstream.on('data', (message: Buffer) => call.write(message));
  upstream.on('error', (error: grpc.ServiceError) => {
    if (ended) return;
    ended = true;
    call.emit('error', statusOf(error));
  });
  upstream.on('end', () => {
    if (ended) return;
    ended = true;
    call.end();
  });
}
