// Jobs go to the engine's workers in groups: every job started during one
// event-loop turn leaves in one message. Under load (64 clients) a turn
// takes in many requests, and each message to a worker costs the main
// thread a structured clone and a wake-up of the worker (tens of
// microseconds on a busy machine: more than the rest of a request's main-
// thread work); a group pays those once. The answers of a group come back
// together too, once its last job is done: the jobs of one turn meet in the
// same batcher queue anyway, so they finish close together.
import type { Piscina } from 'piscina';

import type { JobGroupTask, JobReply, JobTask } from './engine-protocol';

interface Pending {
  task: JobTask;
  transfer: ArrayBuffer[] | undefined;
  resolve: (reply: JobReply) => void;
  reject: (error: unknown) => void;
}

/** A group never holds more jobs than this: past it, it leaves at once. */
export const MAX_GROUP_JOBS = 64;

export class JobOutbox {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly pool: Piscina) {}

  send(task: JobTask, transfer: ArrayBuffer[] | undefined): Promise<JobReply> {
    return new Promise<JobReply>((resolve, reject) => {
      this.pending.push({ task, transfer, resolve, reject });
      if (this.pending.length >= MAX_GROUP_JOBS) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        // After this turn's I/O callbacks: every request that arrived in it joins the group.
        setImmediate(this.flushScheduled);
      }
    });
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    this.flush();
  };

  private flush(): void {
    const group = this.pending;
    if (group.length === 0) return;
    this.pending = [];
    const message: JobGroupTask = { kind: 'jobs', tasks: group.map((p) => p.task) };
    // A buffer named twice (by one job or by two) would fail the whole message.
    const transferList = [...new Set(group.flatMap((p) => p.transfer ?? []))];
    this.pool.run(message, { transferList }).then(
      (replies: JobReply[]) => group.forEach((p, i) => p.resolve(replies[i]!)),
      (error: unknown) => {
        // One job's payload that cannot be sent (a function, a detached
        // buffer to transfer) must fail that job only, not the others that
        // happened to arrive in the same turn: send them again one by one.
        if (group.length > 1 && error instanceof Error && error.name === 'DataCloneError') {
          for (const p of group) this.sendAlone(p);
        } else {
          group.forEach((p) => p.reject(error));
        }
      },
    );
  }

  private sendAlone(p: Pending): void {
    const message: JobGroupTask = { kind: 'jobs', tasks: [p.task] };
    this.pool.run(message, { transferList: [...new Set(p.transfer ?? [])] }).then((replies: JobReply[]) => p.resolve(replies[0]!), p.reject);
  }
}
