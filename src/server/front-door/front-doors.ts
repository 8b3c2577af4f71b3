// The main thread's side of the front-door threads (--front_door_threads).
//
// Each thread adopts its own descriptor of the public gRPC (and REST)
// listening socket, so HTTP/2 and HTTP/1 framing, decoding, validation,
// marshalling and encoding all happen there; its event loop accepts
// connections beside the others'. The main thread keeps what must stay
// single-threaded: it leases versions (ModelManager: version policies,
// labels, loads and unloads) and records metrics, both asked for in batched
// messages. Every call a thread does not run itself (everything but
// Predict) goes to the main thread's own servers, which listen on unix
// sockets in a private directory: one implementation of every other method.
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { TfServeError } from '../../engine/errors';
import { native } from '../../engine/native';
import { leaseTarget } from '../../serving/inference';
import type { Lease, ModelManager } from '../../serving/model-manager';
import type { GrpcRequestInfo } from '../grpc';
import type { RequestRecord } from '../metrics';
import { jobTarget } from '../hot-path/target';
import type { FrontDoorConfig, Grant, LeaseRequest, ToMain, ToThread } from './protocol';

export interface FrontDoorsOptions {
  threads: number;
  manager: ModelManager;
  /** Everything but the descriptors, which are the threads' own. */
  config: Omit<FrontDoorConfig, 'grpcFd' | 'rest'> & { rest: Omit<NonNullable<FrontDoorConfig['rest']>, 'fd'> | null };
  grpcFd: number;
  restFd: number | null;
  onGrpc: (record: GrpcRequestInfo) => void;
  onRest: (record: RequestRecord) => void;
  /** A Predict's run on a thread (decode to encode), for the runtime latency metric. */
  onRuntime: (model: string, seconds: number) => void;
  log: (line: string) => void;
}

interface Door {
  worker: Worker;
  /** Leases this thread holds, by its request id. */
  leases: Map<number, Lease>;
  closed: boolean;
}

export class FrontDoors {
  private readonly doors = new Set<Door>();
  private closing: Promise<void> | null = null;

  private constructor(private readonly options: FrontDoorsOptions) {}

  /** @internal the threads now serving (tests end one to see it replaced) */
  get threads(): Worker[] {
    return [...this.doors].map((door) => door.worker);
  }

  /** Starts the threads; resolves once every one listens. Takes ownership of the descriptors. */
  static async start(options: FrontDoorsOptions): Promise<FrontDoors> {
    const doors = new FrontDoors(options);
    try {
      await Promise.all(Array.from({ length: options.threads }, () => doors.spawn()));
    } catch (error) {
      await doors.close(0);
      throw error;
    }
    return doors;
  }

  private spawn(): Promise<void> {
    const { config, grpcFd, restFd } = this.options;
    // Each thread owns (and closes) its own descriptor of the shared sockets;
    // the originals stay here, for a replacement thread, until close().
    let ownGrpc: number;
    let ownRest: number | null = null;
    try {
      ownGrpc = native.dupFd(grpcFd);
      try {
        ownRest = restFd === null ? null : native.dupFd(restFd);
      } catch (error) {
        native.closeFd(ownGrpc);
        throw error;
      }
    } catch (error) {
      return Promise.reject(new TfServeError('UNAVAILABLE', `cannot start a front-door thread: ${(error as Error).message}`));
    }
    const workerData: FrontDoorConfig = { ...config, grpcFd: ownGrpc, rest: config.rest && ownRest !== null ? { ...config.rest, fd: ownRest } : null };
    const worker = new Worker(path.join(__dirname, 'thread.js'), { workerData });
    const door: Door = { worker, leases: new Map(), closed: false };
    this.doors.add(door);
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      // Once the thread runs, its descriptors are its own: node:net closes them with the thread's
      // servers. Closing them here as well could close a number another thread has taken since.
      let running = false;
      worker.once('online', () => (running = true));
      worker.on('message', (batch: ToMain[] | 'listening') => {
        if (batch === 'listening') {
          listening = true;
          resolve();
        } else {
          this.receive(door, batch);
        }
      });
      worker.on('error', (error) => {
        if (!listening) reject(new TfServeError('UNAVAILABLE', `a front-door thread failed to start: ${error.message}`));
        else this.options.log(`a front-door thread failed: ${error.stack ?? error.message}`);
      });
      worker.on('exit', (code) => {
        this.doors.delete(door);
        // Calls it held are gone with it: their versions are free again.
        for (const lease of door.leases.values()) lease.release();
        door.leases.clear();
        if (!listening) {
          if (!running) {
            native.closeFd(ownGrpc);
            if (ownRest !== null) native.closeFd(ownRest);
          }
          reject(new TfServeError('UNAVAILABLE', `a front-door thread exited with code ${code} before it listened`));
        } else if (!door.closed && this.closing === null) {
          // Only a bug ends a thread early; the others keep the ports open meanwhile.
          this.options.log(`a front-door thread exited with code ${code}; starting another`);
          this.spawn().catch((error: unknown) => this.options.log(`cannot restart a front-door thread: ${(error as Error).message}`));
        }
      });
    });
  }

  private receive(door: Door, batch: ToMain[]): void {
    const grants: Grant[] = [];
    for (const message of batch) {
      switch (message.kind) {
        case 'lease':
          grants.push(this.lease(door, message.request));
          break;
        case 'release': {
          const lease = door.leases.get(message.id);
          door.leases.delete(message.id);
          if (lease) {
            lease.release();
            this.options.onRuntime(lease.name, message.runSeconds);
          }
          break;
        }
        case 'grpc':
          this.options.onGrpc(message.record);
          break;
        case 'rest':
          this.options.onRest(message.record);
          break;
        case 'closed':
          door.closed = true;
          break;
      }
    }
    if (grants.length > 0) door.worker.postMessage({ kind: 'grants', grants } satisfies ToThread);
  }

  private lease(door: Door, { id, spec }: LeaseRequest): Grant {
    let lease: Lease;
    try {
      lease = leaseTarget(this.options.manager, spec);
    } catch (error) {
      const failure = TfServeError.from(error);
      return { id, error: { code: failure.code, message: failure.message } };
    }
    const ticket = lease.servable.jobTicket?.() ?? null;
    if (ticket === null) {
      // Not an engine's version (a custom loader's, TFLite): the main thread's server runs it.
      lease.release();
      return { id, proxy: true };
    }
    door.leases.set(id, lease);
    return { id, ticket, target: jobTarget(lease) };
  }

  /** Stops accepting, lets calls in flight finish for up to graceMs, then ends the threads. */
  close(graceMs: number): Promise<void> {
    if (this.closing) return this.closing;
    // No new thread takes the sockets from here on; those running keep their own descriptors until they end.
    native.closeFd(this.options.grpcFd);
    if (this.options.restFd !== null) native.closeFd(this.options.restFd);
    this.closing = Promise.all(
      [...this.doors].map(
        (door) =>
          new Promise<void>((resolve) => {
            door.worker.once('exit', () => resolve());
            door.worker.postMessage({ kind: 'close', graceMs } satisfies ToThread);
            // A thread that does not finish in its grace (and a second more) is ended.
            setTimeout(() => void door.worker.terminate(), graceMs + 1000).unref();
          }),
      ),
    ).then(() => undefined);
    return this.closing;
  }
}
