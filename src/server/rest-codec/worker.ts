// A REST codec worker (piscina): runs one job at a time and hands the
// decoded tensors' buffers back to the main thread without copying them.
import { Piscina } from 'piscina';

import { type CodecJob, runCodecJob, transferablesOf } from './decode';

export default function codecWorker(job: CodecJob): unknown {
  const reply = runCodecJob(job);
  const transfer = transferablesOf(reply);
  if (transfer.length === 0) return reply;
  return Piscina.move({ [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: reply } as never);
}
