// A front-door thread (front-doors.ts): its gRPC door, and its REST door
// when the server has a REST port, on the listening sockets it shares with
// the other front-door threads.
import { parentPort, workerData } from 'node:worker_threads';

import { native } from '../../engine/native';
import { closeThreadModels } from '../../engine/thread-models';
import { type Door, startGrpcDoor } from './grpc-door';
import { MainLink } from './main-link';
import type { FrontDoorConfig } from './protocol';
import { startRestDoor } from './rest-door';

// Shown in /proc/<pid>/task/*/comm (bench/front-door.mjs reports CPU per thread).
native.nameThread('tfs-front');

const config = workerData as FrontDoorConfig;
const doors: Door[] = [];
let closing = false;

const link = new MainLink((graceMs) => {
  if (closing) return;
  closing = true;
  void Promise.all(doors.map((door) => door.close(graceMs)))
    .then(() => closeThreadModels())
    .then(() => {
      link.send({ kind: 'closed' });
      // After the last batch of records (MainLink flushes on setImmediate too).
      setImmediate(() => process.exit(0));
    });
});

async function start(): Promise<void> {
  doors.push(await startGrpcDoor(config, link));
  if (config.rest) doors.push(await startRestDoor(config.rest, config, link));
  parentPort!.postMessage('listening');
}

// A failure to listen ends the thread with its error, which the main thread reports.
void start();
