// One unary gRPC call to a real server, the messages given and answered as
// plain objects (protobufjs toObject with the caller's conversion options).
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';

import { servingType } from '../src/serving/protos';

type Obj = Record<string, unknown>;

const DEFAULT_CONVERSION: protobuf.IConversionOptions = { enums: String, longs: Number, defaults: true };

export function grpcCall(port: number, method: string, requestType: string, request: Obj, responseType: string, conversion = DEFAULT_CONVERSION): Promise<Obj> {
  const Request = servingType(requestType);
  const Response = servingType(responseType);
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(Request.encode(Request.fromObject(request)).finish()),
      (error, response) => {
        client.close();
        if (error) reject(error);
        else resolve(Response.toObject(Response.decode(response!), conversion) as Obj);
      },
    );
  });
}

/** PredictionService/Predict. */
export function grpcPredict(port: number, request: Obj, conversion = DEFAULT_CONVERSION): Promise<Obj> {
  return grpcCall(port, '/tensorflow.serving.PredictionService/Predict', 'tensorflow.serving.PredictRequest', request, 'tensorflow.serving.PredictResponse', conversion);
}

/** One unary call on an open client, hand-built bytes in, the answer's bytes out (30 s deadline). */
export function grpcRawCall(client: grpc.Client, method: string, request: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + 30_000 },
      (error, response) => (error ? reject(error) : resolve(response!)),
    );
  });
}
