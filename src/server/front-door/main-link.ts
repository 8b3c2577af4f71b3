// A front-door thread's line to the main thread: version leases asked for
// and released, and metrics records, all sent in one message per event-loop
// turn (under load a turn takes in many calls, and each message costs the
// main thread a structured clone and a wake-up).
import { parentPort } from 'node:worker_threads';

import { TfServeError } from '../../engine/errors';
import type { ModelSpecInput } from '../../serving/inference';
import type { Grant, ToMain, ToThread } from './protocol';

export type Granted = Exclude<Grant, { error: unknown }>;

export class MainLink {
  private nextId = 1;
  private readonly pending = new Map<number, (grant: Grant) => void>();
  private outbox: ToMain[] = [];
  private flushing = false;

  constructor(onClose: (graceMs: number) => void) {
    parentPort!.on('message', (message: ToThread) => {
      if (message.kind === 'close') {
        onClose(message.graceMs);
        return;
      }
      for (const grant of message.grants) {
        const settle = this.pending.get(grant.id);
        this.pending.delete(grant.id);
        settle?.(grant);
      }
    });
  }

  /** The version `spec` names, held until release(grant.id); throws the main thread's error (NOT_FOUND, ...). */
  lease(spec: ModelSpecInput): Promise<Granted> {
    const id = this.nextId++;
    this.send({ kind: 'lease', request: { id, spec } });
    return new Promise<Granted>((resolve, reject) => {
      this.pending.set(id, (grant) => ('error' in grant ? reject(new TfServeError(grant.error.code, grant.error.message)) : resolve(grant)));
    });
  }

  /** Ends lease `id`; its job ran for runSeconds. */
  private release(id: number, runSeconds: number): void {
    this.send({ kind: 'release', id, runSeconds });
  }

  /** Runs `job` while holding the lease `grant` (released after, with the run's time). */
  async runOn<T>(grant: Extract<Granted, { ticket: unknown }>, job: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      return await job();
    } finally {
      this.release(grant.id, Number(process.hrtime.bigint() - start) / 1e9);
    }
  }

  send(message: ToMain): void {
    this.outbox.push(message);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const batch = this.outbox;
      this.outbox = [];
      parentPort!.postMessage(batch);
    });
  }
}
