// Assembles a model server from tensorflow_model_server's flags: model
// manager, gRPC and REST front doors, metrics, config polling, and the
// draining shutdown.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';

import type * as grpc from '@grpc/grpc-js';

import { TfServeError } from '../engine/errors';
import { Engine } from '../engine/engine';
import type { LoadOptions } from '../engine/model';
import { describeOpLibraries, loadOpLibraries } from '../engine/op-libraries';
import type { ServableLoader } from '../engine/servable';
import type { SessionOptions } from '../engine/session-options';
import { preferTflite } from '../engine/tflite/model';
import type { DecodeLimits } from '../serving/decode-limits';
import { parseBatchingParametersFile, parseModelConfigText, parseMonitoringConfigFile, readModelConfigFile } from '../serving/config';
import { type LoadEvent, type ModelConfig, ModelManager } from '../serving/model-manager';
import { runWarmup } from '../serving/warmup';
import type { ServerFlags } from './flags';
import { type GrpcServer, grpcServerOptions, startGrpcServer } from './grpc';
import { FrontDoors } from './front-door/front-doors';
import { native } from '../engine/native';
import { parseGrpcChannelArguments } from './grpc-channel-args';
import type { Servable } from '../engine/servable';
import { describeDevices } from './devices-log';
import { type BatchingStatsSource, type DevicesSource, ServerMetrics, registerBatchingMetrics, registerDeviceMetrics } from './metrics';
import { LIVENESS_PATH, READINESS_PATH, type RestServer, startRestServer } from './rest';
import { DEFAULT_MAX_RESPONSE_BYTES } from './rest-json';
import { JOBS_MODULE } from './hot-path/run';

export interface ServingServer {
  readonly grpcPort: number;
  /** null when --rest_api_port is 0. */
  readonly restPort: number | null;
  /** Settles once every model's first load attempt did. */
  readonly loaded: Promise<void>;
  /**
   * Stops accepting connections, lets requests in flight finish for up to
   * graceMs, then unloads the models.
   */
  shutdown(graceMs: number): Promise<void>;
  /** @internal the front-door threads serving the ports now (none with --front_door_threads=0) */
  frontDoorThreads(): Worker[];
}

export interface StartOptions {
  /** Where progress lines go; default: stdout. */
  log?: (line: string) => void;
  loader?: ServableLoader;
}

/** The session options the flags ask for (every model the server loads gets them). */
export function sessionOptions(flags: ServerFlags): SessionOptions {
  const session: SessionOptions = {};
  const shared = flags.tensorflowSessionParallelism;
  if (shared > 0 || flags.tensorflowIntraOpParallelism > 0) session.intraOpThreads = shared || flags.tensorflowIntraOpParallelism;
  if (shared > 0 || flags.tensorflowInterOpParallelism > 0) session.interOpThreads = shared || flags.tensorflowInterOpParallelism;
  if (flags.perProcessGpuMemoryFraction > 0) session.gpu = { memoryFraction: flags.perProcessGpuMemoryFraction };
  if (flags.xlaCpuCompilationEnabled) session.xla = true;
  return session;
}

/** The models the flags name: the config file's (`configText`, its text), or --model_name at --model_base_path. */
function modelConfigsFromFlags(flags: ServerFlags, configText: string | null): ModelConfig[] {
  if (configText !== null) return parseModelConfigText(configText, flags.modelConfigFile);
  return [{ name: flags.modelName, basePath: flags.modelBasePath, modelPlatform: 'tensorflow', versionPolicy: { kind: 'latest', numVersions: 1 }, versionLabels: {} }];
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function describeStatus(manager: ModelManager): string[] {
  const lines: string[] = [];
  for (const name of manager.modelNames()) {
    try {
      for (const s of manager.status(name)) {
        lines.push(`model '${name}' version ${s.version}: ${s.state}${s.error.code === 'OK' ? '' : ` (${s.error.code}: ${s.error.message})`}`);
      }
    } catch (error) {
      lines.push(`model '${name}': ${(error as Error).message}`);
    }
  }
  return lines;
}

/** Re-reads --model_config_file every poll interval and applies it when it differs from `last`, the text applied. */
function pollModelConfig(flags: ServerFlags, manager: ModelManager, last: string | null, log: (line: string) => void): () => void {
  if (last === null || flags.modelConfigFilePollWaitSeconds <= 0) return () => undefined;
  let applying = false;
  const timer = setInterval(() => {
    if (applying) return;
    let text: string;
    try {
      text = fs.readFileSync(flags.modelConfigFile, 'utf8');
    } catch (error) {
      log(`cannot re-read ${flags.modelConfigFile}: ${(error as Error).message}; keeping the current config`);
      return;
    }
    if (text === last) return;
    last = text;
    applying = true;
    Promise.resolve()
      .then(() => manager.setConfig(parseModelConfigText(text, flags.modelConfigFile)))
      .then(() => log(`applied the changed ${flags.modelConfigFile}: serving ${manager.modelNames().join(', ')}`))
      .catch((error: unknown) => log(`cannot apply ${flags.modelConfigFile}: ${(error as Error).message}; keeping the current config`))
      .finally(() => (applying = false));
  }, flags.modelConfigFilePollWaitSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/** `read` of every AVAILABLE version's servable, each held by a lease while it is read (scrape time). */
function* eachAvailable<T>(manager: ModelManager, read: (servable: Servable) => T): Generator<{ model: string; version: number; value: T }> {
  for (const name of manager.modelNames()) {
    for (const status of manager.status(name)) {
      if (status.state !== 'AVAILABLE') continue;
      let lease;
      try {
        lease = manager.acquire({ name, version: status.version });
      } catch {
        continue; // unloaded since status() was read
      }
      try {
        yield { model: name, version: status.version, value: read(lease.servable) };
      } finally {
        lease.release();
      }
    }
  }
}

/** The batching stats of every AVAILABLE version, read at scrape time. */
function batchingStatsOf(manager: ModelManager): BatchingStatsSource {
  return function* () {
    for (const { model, value } of eachAvailable(manager, (s) => s.batchingStats())) yield { model, stats: value };
  };
}

/** The devices of every AVAILABLE version's session. */
function devicesOf(manager: ModelManager): DevicesSource {
  return function* () {
    for (const { model, version, value } of eachAvailable(manager, (s) => s.devices)) yield { model, version, devices: value };
  };
}

/** Channel arguments that bound one client connection (its streams, its age, its idle time). */
const PER_CONNECTION_LIMITS = ['grpc.max_concurrent_streams', 'grpc.max_connection_age_ms', 'grpc.max_connection_age_grace_ms', 'grpc.max_connection_idle_ms'];

function withoutPerConnectionLimits(options: grpc.ServerOptions): grpc.ServerOptions {
  return Object.fromEntries(Object.entries(options).filter(([key]) => !PER_CONNECTION_LIMITS.includes(key)));
}

/** The longest unix socket path the kernel takes (sun_path is 108 bytes on Linux, 104 on macOS, with its NUL). */
const MAX_SOCKET_PATH_BYTES = 103;

/**
 * A private directory (mode 0700) for the main thread's sockets behind the
 * front-door threads, in TMPDIR unless its socket paths would be too long
 * for the kernel (a deep TMPDIR), then in /tmp.
 */
function makePrivateSocketDir(): string {
  const fits = (dir: string) => Buffer.byteLength(path.join(dir, 'tfserve-XXXXXX', 'grpc.sock')) <= MAX_SOCKET_PATH_BYTES;
  const base = [os.tmpdir(), '/tmp'].find(fits);
  if (base === undefined) throw new TfServeError('FAILED_PRECONDITION', `the front-door threads' private sockets need a short temporary directory: TMPDIR '${os.tmpdir()}' is too long for a unix socket path (or set --front_door_threads=0)`);
  return fs.mkdtempSync(path.join(base, 'tfserve-'));
}

/** A listening socket for the front-door threads, failing as grpc-js and node:net do when the address is taken. */
function listenTcp(host: string, port: number, what: string): { port: number; fd: number } {
  try {
    return native.listenTcp(host, port);
  } catch (error) {
    throw new TfServeError('UNAVAILABLE', `cannot listen for ${what} on ${hostPort(host, port)}: ${(error as Error).message}`);
  }
}

/**
 * gRPC core removes a stale socket file before it binds a unix socket, and so
 * does tensorflow_model_server: a server that was killed leaves its file
 * behind, and the next one must still start. Only a socket is removed.
 */
function removeStaleSocket(socketPath: string): void {
  try {
    if (fs.lstatSync(socketPath).isSocket()) fs.unlinkSync(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export async function startServer(flags: ServerFlags, options: StartOptions = {}): Promise<ServingServer> {
  const log = options.log ?? ((line: string) => console.log(line));
  // Read once: the configs served at start and the text later polls compare against.
  const configText = flags.modelConfigFile ? readModelConfigFile(flags.modelConfigFile) : null;
  const configs = modelConfigsFromFlags(flags, configText);
  const monitoring = flags.monitoringConfigFile ? parseMonitoringConfigFile(flags.monitoringConfigFile) : null;
  const prometheusPath = monitoring?.prometheus.enable ? monitoring.prometheus.path : null;
  if (prometheusPath && flags.restApiPort === 0) {
    throw new TfServeError('INVALID_ARGUMENT', `${flags.monitoringConfigFile} enables Prometheus, which is served on the REST port: set --rest_api_port`);
  }
  if (prometheusPath && (prometheusPath === LIVENESS_PATH || prometheusPath === READINESS_PATH || prometheusPath.startsWith('/v1/') || prometheusPath === '/v2' || prometheusPath.startsWith('/v2/'))) {
    throw new TfServeError('INVALID_ARGUMENT', `${flags.monitoringConfigFile}: prometheus_config.path '${prometheusPath}' collides with another endpoint`);
  }
  // Checked before any model loads: a bad argument fails the start at once, not after the loads.
  const channel = parseGrpcChannelArguments(flags.grpcChannelArguments);
  const opLibraries = flags.opLibraries.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  // Before any model, as tensorflow_model_server links its ops in: a bad
  // library fails the start, and every load finds the ops registered.
  log(`op libraries: ${describeOpLibraries(await loadOpLibraries(opLibraries))}`);
  const loadOptions: LoadOptions = {
    opLibraries,
    session: sessionOptions(flags),
    tags: flags.savedModelTags.split(',').map((tag) => tag.trim()).filter((tag) => tag !== ''),
    batching: flags.enableBatching
      ? {
          ...(flags.batchingParametersFile ? parseBatchingParametersFile(flags.batchingParametersFile) : {}),
          ...(flags.busyBatchTimeoutMicros >= 0 ? { busyBatchTimeoutMicros: flags.busyBatchTimeoutMicros } : {}),
        }
      : false,
  };

  const metrics = new ServerMetrics();
  const engine = options.loader ? null : await Engine.create({ workers: flags.engineWorkers, jobs: JOBS_MODULE });
  const savedModelLoader: ServableLoader = options.loader ?? ((basePath, load) => engine!.load(basePath, load));
  const loader = flags.preferTfliteModel ? preferTflite(savedModelLoader) : savedModelLoader;
  const decodeLimits: DecodeLimits = { factor: flags.requestDecodeFactor, floorBytes: flags.requestDecodeFloorBytes, maxBytes: flags.requestDecodeMaxBytes };
  const manager = new ModelManager({
    loader: metrics.instrumentLoader(loader),
    loadOptions,
    fileSystemPollWaitSeconds: flags.fileSystemPollWaitSeconds,
    // Warmup records decode under the same limits, and meet the same method-name check, as requests.
    warmup: flags.enableModelWarmup
      ? (servable, name) => runWarmup(servable, name, { decodeLimits, methodNameCheck: flags.enableSignatureMethodNameCheck })
      : undefined,
    allowVersionLabelsForUnavailableModels: flags.allowVersionLabelsForUnavailableModels,
    maxLoadRetries: flags.maxNumLoadRetries,
    loadRetryIntervalSeconds: flags.loadRetryIntervalMicros / 1e6,
    signatureMethodNameCheck: flags.enableSignatureMethodNameCheck,
  });
  metrics.observeManager(manager);
  if (loadOptions.batching) registerBatchingMetrics(metrics, batchingStatsOf(manager));
  registerDeviceMetrics(metrics, devicesOf(manager));
  manager.on('load', (event: LoadEvent) => {
    if (event.error) log(`model '${event.name}' version ${event.version} failed to load after ${event.seconds.toFixed(2)} s: ${event.error.message}`);
    else log(`model '${event.name}' version ${event.version} loaded in ${event.seconds.toFixed(2)} s on ${describeDevices(event.devices ?? [])}`);
  });

  const grpcServers: GrpcServer[] = [];
  let rest: RestServer | null = null;
  let frontDoors: FrontDoors | null = null;
  let publicGrpcPort = 0;
  let publicRestPort: number | null = null;
  /** The main thread's private sockets' directory, with front-door threads. */
  let privateDir: string | null = null;
  /** The main thread's gRPC server behind the front-door threads (a private socket). */
  let grpcBehind: GrpcServer | null = null;
  const closeAll = async (graceMs: number) => {
    const deadline = Date.now() + graceMs;
    // The servers behind the front-door threads must outlast them: while the
    // threads drain they still pass on what arrives on connections already
    // open (HTTP/1 has no GOAWAY; a gRPC call's message may still be on its
    // way). They answer as draining at once (readiness, health) and close
    // after the threads, within the same grace.
    const behind = frontDoors !== null ? [grpcBehind, rest].filter((s) => s !== null) : [];
    for (const server of behind) server.beginDrain();
    const afterDoors = () => Promise.all(behind.map((s) => s.close(Math.max(0, deadline - Date.now()))));
    await Promise.all([
      frontDoors?.close(graceMs).then(afterDoors),
      ...[...grpcServers, rest].filter((s) => s !== null && !behind.includes(s)).map((s) => s!.close(graceMs)),
    ]);
    if (privateDir) fs.rmSync(privateDir, { recursive: true, force: true });
  };
  const openPorts = async () => {
    const onRequest = metrics.grpcRecorder();
    const maxMessageBytes = flags.grpcMaxMessageBytes;
    if (channel.applied.length > 0) log(`gRPC server arguments: ${channel.applied.join(', ')}`);
    for (const ignored of channel.ignored) log(`--grpc_channel_arguments: ignored ${ignored}`);
    const grpcOptions = { manager, maxMessageBytes, channelOptions: channel.options, decodeLimits, onRequest };
    const restOptions = {
      manager,
      host: flags.bindAddress,
      port: flags.restApiPort,
      timeoutMs: flags.restApiTimeoutInMs,
      maxBodyBytes: flags.restApiMaxBodyBytes,
      decodeLimits,
      metrics,
      prometheusPath,
    };
    let grpcPort: number;
    let restPort: number | null = null;
    if (flags.frontDoorThreads > 0) {
      // The public ports are the front-door threads'; the main thread's servers answer what they pass on, on private sockets.
      privateDir = makePrivateSocketDir();
      const grpcUpstream = `unix:${path.join(privateDir, 'grpc.sock')}`;
      const restUpstream = path.join(privateDir, 'rest.sock');
      // Its only client is one connection per thread, carrying every call the thread passes on:
      // limits meant for a client's connection apply at the threads' own servers, not again here.
      const internal = await startGrpcServer({ ...grpcOptions, channelOptions: withoutPerConnectionLimits(channel.options), address: grpcUpstream });
      grpcServers.push(internal);
      grpcBehind = internal;
      if (flags.restApiPort > 0) rest = await startRestServer({ ...restOptions, socketPath: restUpstream });
      const grpcSocket = listenTcp(flags.bindAddress, flags.port, 'gRPC');
      let restSocket: { port: number; fd: number } | null = null;
      try {
        if (flags.restApiPort > 0) restSocket = listenTcp(flags.bindAddress, flags.restApiPort, 'HTTP/REST');
      } catch (error) {
        native.closeFd(grpcSocket.fd);
        throw error;
      }
      const { serverOptions, maxResponseBytes } = grpcServerOptions(grpcOptions);
      frontDoors = await FrontDoors.start({
        threads: flags.frontDoorThreads,
        manager,
        grpcFd: grpcSocket.fd,
        restFd: restSocket?.fd ?? null,
        config: {
          grpcUpstream,
          grpcMethods: internal.methods,
          grpcOptions: serverOptions as Record<string, unknown>,
          maxResponseBytes,
          decodeLimits,
          rest: restSocket && { upstreamSocket: restUpstream, timeoutMs: flags.restApiTimeoutInMs, maxBodyBytes: flags.restApiMaxBodyBytes, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES },
        },
        onGrpc: onRequest,
        onRest: (record) => metrics.recordRequest(record),
        onRuntime: (model, seconds) => metrics.recordRuntime(model, 'predict', seconds),
        log,
      });
      grpcPort = grpcSocket.port;
      restPort = restSocket?.port ?? null;
    } else {
      const grpcServer = await startGrpcServer({ ...grpcOptions, address: hostPort(flags.bindAddress, flags.port) });
      grpcServers.push(grpcServer);
      grpcPort = grpcServer.port;
      if (flags.restApiPort > 0) {
        rest = await startRestServer(restOptions);
        restPort = rest.port;
      }
    }
    publicGrpcPort = grpcPort;
    publicRestPort = restPort;
    log(`Running gRPC ModelServer at ${hostPort(flags.bindAddress, grpcPort)} ...`);
    if (flags.grpcSocketPath) {
      removeStaleSocket(flags.grpcSocketPath);
      grpcServers.push(await startGrpcServer({ ...grpcOptions, address: `unix:${flags.grpcSocketPath}` }));
      log(`Running gRPC ModelServer at unix:${flags.grpcSocketPath} ...`);
    }
    if (restPort !== null) {
      log(`Exporting HTTP/REST API at:${hostPort(flags.bindAddress, restPort)} ...`);
      if (prometheusPath) log(`Prometheus metrics at ${prometheusPath}`);
    }
  };

  const applyConfig = () =>
    manager.setConfig(configs).then(
      () => true,
      (error: unknown) => {
        log(`cannot apply the model config: ${(error as Error).message}`);
        return false;
      },
    );
  const logStatus = (applied: boolean) => {
    if (applied) for (const line of describeStatus(manager)) log(line);
  };
  // As tensorflow_model_server: the ports open once every configured model
  // has had its first load, so a client (or a script waiting for the port or
  // the "Running gRPC ModelServer" line) never meets a server with nothing
  // loaded. The status lines ("version N: AVAILABLE") come after the ports,
  // so whoever waits for them can connect. --serve_during_load opens the
  // ports first, for liveness probes during long loads.
  let loaded: Promise<void>;
  try {
    if (flags.serveDuringLoad) {
      await openPorts();
      loaded = applyConfig().then(logStatus);
    } else {
      const applied = await applyConfig();
      await openPorts();
      logStatus(applied);
      loaded = Promise.resolve();
    }
  } catch (error) {
    await closeAll(0);
    await manager.close();
    await engine?.close();
    throw error;
  }
  const stopPolling = pollModelConfig(flags, manager, configText, log);

  let shutdown: Promise<void> | null = null;
  return {
    grpcPort: publicGrpcPort,
    frontDoorThreads: () => frontDoors?.threads ?? [],
    restPort: publicRestPort,
    loaded,
    shutdown(graceMs: number) {
      shutdown ??= (async () => {
        stopPolling();
        await closeAll(graceMs);
        await loaded;
        await manager.close();
        await engine?.close();
      })();
      return shutdown;
    },
  };
}
