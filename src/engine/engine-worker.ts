// A piscina worker of the Engine: decodes, validates and encodes tensors off
// the main thread and calls the addon, which shares one session per model
// version with every other thread.
import { BroadcastChannel, workerData } from 'node:worker_threads';

import { Piscina, transferableSymbol, valueSymbol } from 'piscina';

import { type EngineBroadcast, type PredictReply, type PredictTask, channelName } from './engine-protocol';
import { TfServeError } from './errors';
import { Model } from './model';
import type { AnyTensor } from './tensor';

const models = new Map<number, Promise<Model>>();

function unload(key: number): void {
  const model = models.get(key);
  models.delete(key);
  void model?.then((m) => m.unload(), () => undefined);
}

const channel = new BroadcastChannel(channelName((workerData as { engineId: string }).engineId));
channel.unref();
channel.onmessage = (event) => {
  const message = (event as unknown as { data: EngineBroadcast }).data;
  if ('unload' in message) unload(message.unload);
  else for (const key of [...models.keys()]) unload(key);
};

const isUnloaded = (task: PredictTask) => Atomics.load(task.unloaded, 0) !== 0;

async function modelFor(task: PredictTask): Promise<Model> {
  // Requests can still be queued in the pool after their model was unloaded
  // (their callers were answered early): they must not load it again.
  if (isUnloaded(task)) throw new TfServeError('FAILED_PRECONDITION', 'the model was unloaded');
  let model = models.get(task.key);
  if (!model) {
    model = Model.open(task.basePath, task.version, task.load);
    models.set(task.key, model);
    model.catch(() => models.delete(task.key));
  }
  const loaded = await model;
  // Unloaded while this load ran, and this worker may have missed the broadcast.
  if (isUnloaded(task)) {
    unload(task.key);
    throw new TfServeError('FAILED_PRECONDITION', 'the model was unloaded');
  }
  return loaded;
}

function transferable(outputs: Record<string, AnyTensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const tensor of Object.values(outputs)) {
    // A string output's elements are views on one buffer (see Model's toTensor).
    const first = Array.isArray(tensor.data) ? tensor.data[0] : tensor.data;
    if (first !== undefined) buffers.add((first as ArrayBufferView).buffer as ArrayBuffer);
  }
  return [...buffers];
}

async function predict(task: PredictTask): Promise<unknown> {
  let reply: PredictReply;
  try {
    // A caller that gave up while this waited in the pool was answered already.
    if (task.cancel && Atomics.load(task.cancel, 0) !== 0) throw new TfServeError('CANCELLED', 'the request was cancelled');
    const model = await modelFor(task);
    const outputs = await model.predictWithToken(task.inputs, task.options, task.cancel);
    reply = { outputs };
    const buffers = transferable(outputs);
    return Piscina.move({
      get [transferableSymbol]() {
        return buffers;
      },
      get [valueSymbol]() {
        return reply;
      },
    });
  } catch (error) {
    const wrapped = TfServeError.from(error);
    reply = { error: { code: wrapped.code, message: wrapped.message } };
    return reply;
  }
}

export = predict;
