// REST :predict as one job: the JSON body's bytes in, the JSON answer's
// UTF-8 bytes out, on the thread the engine runs the version on.
import type { JobContext, JobResult } from '../../engine/engine-jobs';
import { DEFAULT_SIGNATURE } from '../../engine/model';
import type { Servable } from '../../engine/servable';
import type { DecodeLimits } from '../../serving/decode-limits';
import { predictOn } from '../../serving/inference';
import { decodePredictJob, inputSignatures } from '../rest-codec/decode';
import { encodePredictResponse } from '../rest-json';
import { type JobTarget, ownedUtf8 } from './target';

export interface RestPredictPayload {
  /** The body after Content-Encoding. */
  body: Uint8Array;
  limits: DecodeLimits;
  /** Largest JSON answer (estimated before it is built). */
  maxResponseBytes: number;
  target: JobTarget;
}

export async function restPredict(servable: Servable, payload: RestPredictPayload, { signal }: JobContext): Promise<JobResult> {
  const { body, limits, maxResponseBytes, target } = payload;
  const decoded = decodePredictJob({
    kind: 'predict',
    body,
    limits,
    model: { name: target.name, version: target.version },
    defaultSignature: DEFAULT_SIGNATURE,
    signatures: inputSignatures(servable.signatures),
  });
  const result = await predictOn({ ...target, servable }, { inputs: decoded.inputs, signal, signatureName: decoded.signatureName });
  const answer = ownedUtf8(encodePredictResponse(result.outputs, decoded.format, maxResponseBytes));
  return { value: answer, transfer: [answer.buffer as ArrayBuffer] };
}
