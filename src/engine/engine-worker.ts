// A piscina worker of the Engine: decodes, validates and encodes tensors off
// the main thread and calls the addon, which shares one session per model
// version with every other thread. It also runs the jobs of the engine's job
// module (engine-jobs.ts): whole front-door requests, bytes in, bytes out.
import { workerData } from 'node:worker_threads';

import { Piscina, transferableSymbol, valueSymbol } from 'piscina';

import { type JobModule, cancelBound, jobHandler, loadJobModule } from './engine-jobs';
import type { EngineTask, JobGroupTask, JobReply, JobTask, PredictReply, PredictTask } from './engine-protocol';
import { isCancelled } from './cancellation';
import { TfServeError } from './errors';
import { native } from './native';
import { threadModels } from './thread-models';
import type { AnyTensor } from './tensor';

// Shown in /proc/<pid>/task/*/comm, so that CPU per thread can be told apart (bench/front-door.mjs).
native.nameThread('tfs-engine');

const { engineId, jobs } = workerData as { engineId: string; jobs?: string };
const jobModule: JobModule | null = jobs === undefined ? null : loadJobModule(jobs);
const models = threadModels(engineId);

function transferable(outputs: Record<string, AnyTensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const tensor of Object.values(outputs)) {
    // A string output's elements are views on one buffer (see Model's toTensor).
    const first = Array.isArray(tensor.data) ? tensor.data[0] : tensor.data;
    if (first !== undefined) buffers.add((first as ArrayBufferView).buffer as ArrayBuffer);
  }
  return [...buffers];
}

function moved(reply: object, buffers: ArrayBuffer[]): unknown {
  if (buffers.length === 0) return reply;
  return Piscina.move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return reply;
    },
  });
}

function failed(error: unknown): { error: { code: TfServeError['code']; message: string } } {
  const wrapped = TfServeError.from(error);
  return { error: { code: wrapped.code, message: wrapped.message } };
}

// A caller that gave up while its task waited in the pool was answered already.
const callerGone = (task: EngineTask) => isCancelled(task.cancel);

async function runJob(task: JobTask): Promise<{ reply: JobReply; transfer: ArrayBuffer[] }> {
  try {
    if (callerGone(task)) throw new TfServeError('CANCELLED', 'the request was cancelled');
    const handler = jobHandler(jobModule, task.job);
    const model = await models.modelFor(task);
    const result = await handler(cancelBound(model, task.cancel), task.payload as never, {});
    return { reply: { value: result.value }, transfer: result.transfer ?? [] };
  } catch (error) {
    return { reply: failed(error), transfer: [] };
  }
}

/** A group's jobs run side by side; their answers go back in one message. */
async function runJobs(group: JobGroupTask): Promise<unknown> {
  const done = await Promise.all(group.tasks.map(runJob));
  // Two jobs may hand back the same buffer: named twice, it would fail the whole group's reply.
  return moved(
    done.map((d) => d.reply),
    [...new Set(done.flatMap((d) => d.transfer))],
  );
}

// Jobs always arrive in groups (JobOutbox), predictions one by one.
async function run(task: PredictTask | JobGroupTask): Promise<unknown> {
  if (task.kind === 'jobs') return runJobs(task);
  return predict(task);
}

async function predict(task: PredictTask): Promise<unknown> {
  let reply: PredictReply;
  try {
    if (callerGone(task)) throw new TfServeError('CANCELLED', 'the request was cancelled');
    const model = await models.modelFor(task);
    const outputs = await model.predictWithToken(task.inputs, task.options, task.cancel);
    reply = { outputs };
    return moved(reply, transferable(outputs));
  } catch (error) {
    reply = failed(error);
    return reply;
  }
}

export = run;
