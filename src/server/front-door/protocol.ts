// Messages between the main thread and the front-door threads (see
// front-doors.ts). A front-door thread frames HTTP/2 and HTTP/1 and runs
// Predict itself; the main thread only leases versions and keeps the books.
import type { StatusCode } from '../../engine/errors';
import type { JobTicket } from '../../engine/servable';
import type { DecodeLimits } from '../../serving/decode-limits';
import type { ModelSpecInput } from '../../serving/inference';
import type { GrpcRequestInfo } from '../grpc';
import type { GrpcMethod } from '../grpc-raw';
import type { RequestRecord } from '../metrics';
import type { JobTarget } from '../hot-path/target';

/** What a front-door thread is started with (workerData). */
export interface FrontDoorConfig {
  /** The thread's own descriptor of the public gRPC socket. */
  grpcFd: number;
  /** The main thread's gRPC server, for every call the thread does not run itself. */
  grpcUpstream: string;
  grpcMethods: GrpcMethod[];
  /** grpc-js server options (message limits, channel arguments), as the main thread's server has them. */
  grpcOptions: Record<string, unknown>;
  /** The largest response grpc-js will send. */
  maxResponseBytes: number;
  decodeLimits: DecodeLimits;
  /** REST, when --rest_api_port is set. */
  rest: RestDoorConfig | null;
}

export interface RestDoorConfig {
  fd: number;
  /** The main thread's REST server's unix socket, for every request the thread does not run itself. */
  upstreamSocket: string;
  timeoutMs: number;
  maxBodyBytes: number;
  maxResponseBytes: number;
}

/** A request for a version: the model_spec of a gRPC Predict, or a REST URL's. */
export interface LeaseRequest {
  id: number;
  spec: ModelSpecInput;
}

/** The version to run on (held until `release`), or why not, or "send the call to the main thread". */
export type Grant =
  | { id: number; ticket: JobTicket; target: JobTarget }
  | { id: number; error: { code: StatusCode; message: string } }
  | { id: number; proxy: true };

/** Thread -> main, batched per event-loop turn. */
export type ToMain =
  | { kind: 'lease'; request: LeaseRequest }
  /** `runSeconds`: how long the job ran, for the runtime latency metric. */
  | { kind: 'release'; id: number; runSeconds: number }
  | { kind: 'grpc'; record: GrpcRequestInfo }
  | { kind: 'rest'; record: RequestRecord }
  | { kind: 'closed' };

/** Main -> thread. */
export type ToThread = { kind: 'grants'; grants: Grant[] } | { kind: 'close'; graceMs: number };
