// Runs in a worker_thread: loads a model and predicts, reporting back.
import { parentPort, workerData } from 'node:worker_threads';

import { addon, loadModel } from '../../src';

interface Job {
  basePath: string;
  rounds: number;
  offset: number;
}

async function main(): Promise<void> {
  const { basePath, rounds, offset } = workerData as Job;
  const model = await loadModel(basePath);
  const results: number[][] = [];
  for (let i = 0; i < rounds; i++) {
    const x = [offset + i, offset + i + 0.5];
    const out = await model.predict({ x: { shape: [2, 1], data: x } }, { signature: 'variable' });
    results.push([...(out.y!.data as Float32Array)]);
  }
  const liveWhileLoaded = addon.liveSessions();
  await model.unload();
  parentPort!.postMessage({ results, liveWhileLoaded });
}

main().catch((error: Error) => {
  parentPort!.postMessage({ error: `${error.message}` });
});
