// The Open Inference Protocol's REST infer as one job: the body's bytes in
// (JSON, or JSON then binary tensors), the answer's bytes out, where the
// version runs, as rest-predict.ts does for TF Serving's :predict.
import type { JobContext, JobResult } from '../../engine/engine-jobs';
import type { Servable } from '../../engine/servable';
import type { DecodeLimits } from '../../serving/decode-limits';
import { inferOn } from '../../serving/v2/infer';
import { decodeInferBody, encodeInferAnswer } from '../v2/rest-json';
import type { JobTarget } from './target';

export interface V2RestInferPayload {
  /** The body after Content-Encoding. */
  body: Uint8Array;
  /** Inference-Header-Content-Length; null: the whole body is JSON. */
  headerLength: number | null;
  limits: DecodeLimits;
  /** Largest answer (estimated before it is built). */
  maxResponseBytes: number;
  target: JobTarget;
}

/** The answer's bytes: its JSON, then its binary outputs when there are any (headerLength: the JSON's length). */
export interface V2RestInferAnswer {
  body: Uint8Array;
  headerLength: number | null;
}

export async function v2RestInfer(servable: Servable, payload: V2RestInferPayload, { signal }: JobContext): Promise<JobResult> {
  const { body, headerLength, limits, maxResponseBytes, target } = payload;
  const request = decodeInferBody(body, headerLength, limits);
  const result = await inferOn({ ...target, servable }, request, signal);
  const answer = encodeInferAnswer(result, request.parameters, maxResponseBytes);
  const header = Buffer.from(answer.json, 'utf8');
  // One buffer of its own (movable), the JSON first.
  const whole = new Uint8Array(header.byteLength + answer.binary.reduce((sum, part) => sum + part.byteLength, 0));
  whole.set(header, 0);
  let at = header.byteLength;
  for (const part of answer.binary) {
    whole.set(part, at);
    at += part.byteLength;
  }
  const value: V2RestInferAnswer = { body: whole, headerLength: answer.binary.length === 0 ? null : header.byteLength };
  return { value, transfer: [whole.buffer] };
}
