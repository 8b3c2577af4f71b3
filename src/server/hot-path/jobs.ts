// The front doors' request jobs, as the engine's job module
// (engine/engine-jobs.ts): every engine worker loads this file at start. A
// new front door adds its request kinds here.
import type { JobHandler } from '../../engine/engine-jobs';
import { grpcPredict } from './grpc-predict';
import { restPredict } from './rest-predict';
import { v2GrpcInfer } from './v2-grpc-infer';
import { v2RestInfer } from './v2-rest-infer';

export const jobs = {
  grpcPredict: grpcPredict as JobHandler,
  restPredict: restPredict as JobHandler,
  v2GrpcInfer: v2GrpcInfer as JobHandler,
  v2RestInfer: v2RestInfer as JobHandler,
} as const satisfies Record<string, JobHandler>;

export type JobName = keyof typeof jobs;
