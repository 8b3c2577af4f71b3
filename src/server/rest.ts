// TF Serving's REST API on node:http, plus liveness, readiness and the
// Prometheus endpoint.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { DEFAULT_SIGNATURE } from '../engine/model';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../serving/decode-limits';
import { classify, modelMetadata, modelStatus, predictOn, regress } from '../serving/inference';
import type { ModelManager } from '../serving/model-manager';
import type { ServerMetrics } from './metrics';
import { readBody } from './rest-body';
import { type Answer, errorAnswer, guarded, ok, requestPathname, sendAnswer } from './rest-answer';
import { RequestBook, drain } from './rest-drain';
import { jobTarget, ownedBytes } from './hot-path/target';
import type { CallAbort } from './call-abort';
import { runJob } from './hot-path/run';
import type { RestPredictPayload } from './hot-path/rest-predict';
import { type ExamplesDecoded, type PredictDecoded, inputSignatures } from './rest-codec/decode';
import { INLINE_BODY_BYTES, RestCodec } from './rest-codec/pool';
import { DEFAULT_MAX_RESPONSE_BYTES, encodeClassifyResponse, encodeError, encodeRegressResponse } from './rest-json';
import { encodeMetadataResponse, encodeStatusResponse } from './rest-metadata';
import { type ModelRoute, matchModelRoute } from './rest-routes';
import { serveV2, v2Labels } from './v2/rest';

export const LIVENESS_PATH = '/healthz';
export const READINESS_PATH = '/readyz';

export interface RestServerOptions {
  manager: ModelManager;
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Listen on this unix socket instead of host:port (the main thread's server behind front-door threads). */
  socketPath?: string;
  /** Per-request deadline in milliseconds; 0 = none. */
  timeoutMs: number;
  maxBodyBytes: number;
  /** Memory one request's decoded tensors may take (default DEFAULT_DECODE_LIMITS). */
  decodeLimits?: DecodeLimits;
  /** Largest JSON answer to a :predict (estimated before it is built; past it RESOURCE_EXHAUSTED). Default DEFAULT_MAX_RESPONSE_BYTES. */
  maxResponseBytes?: number;
  /** Worker threads that parse and decode request bodies (default: see RestCodec). */
  codecThreads?: number;
  metrics?: ServerMetrics;
  /** Path of the Prometheus exposition; null = not served. */
  prometheusPath?: string | null;
}

export interface RestServer {
  /** 0 on a unix socket. */
  readonly port: number;
  /** Stops accepting connections, lets requests in flight finish for up to graceMs, then drops what is left. */
  close(graceMs: number): Promise<void>;
  /**
   * Answers as a draining server (readiness "shutting down", Connection:
   * close) while it still serves, until close(): the server behind the
   * front-door threads, which pass requests on to it until they have drained.
   */
  beginDrain(): void;
}

interface ApiContext {
  manager: ModelManager;
  codec: RestCodec;
  limits: DecodeLimits;
  maxResponseBytes: number;
}

async function runModelApi(context: ApiContext, route: ModelRoute, body: () => Promise<Uint8Array>, abort: CallAbort): Promise<string | Uint8Array> {
  const { manager, codec, limits } = context;
  const spec = { name: route.name, version: route.version, versionLabel: route.versionLabel };
  switch (route.method) {
    case 'status':
      return encodeStatusResponse(modelStatus(manager, spec));
    case 'metadata': {
      const result = modelMetadata(manager, spec);
      return encodeMetadataResponse(result.modelSpec, result.signatureDefMap);
    }
    case 'predict': {
      const bytes = await body();
      // The signatures of the version predict runs on type the JSON, so the
      // lease is taken first and held while the body is decoded.
      const lease = manager.acquire(spec);
      try {
        // The hot path: the body goes to the engine, which decodes it, runs
        // and writes the JSON answer where it runs the model. Bodies too
        // large to parse in a moment go to the REST codec instead, whose
        // workers are heap-capped and can be stopped mid-parse.
        if (bytes.byteLength < INLINE_BODY_BYTES) {
          // Moved, not cloned (a clone copies the whole buffer a view is on).
          const own = ownedBytes(bytes);
          const payload: RestPredictPayload = { body: own, limits, maxResponseBytes: context.maxResponseBytes, target: jobTarget(lease) };
          return await runJob(lease, 'restPredict', payload, abort, [own.buffer as ArrayBuffer]);
        }
        const job = { kind: 'predict' as const, body: bytes, limits, model: { name: lease.name, version: lease.version }, defaultSignature: DEFAULT_SIGNATURE, signatures: inputSignatures(lease.servable.signatures) };
        const { signal } = abort;
        const decoded = (await codec.decode(job, signal)) as PredictDecoded;
        const result = await predictOn(lease, { inputs: decoded.inputs, signal, signatureName: decoded.signatureName });
        return await codec.encodePredict(result.outputs, decoded.format, context.maxResponseBytes, signal);
      } finally {
        lease.release();
      }
    }
    case 'classify':
    case 'regress': {
      const { signal } = abort;
      const decoded = (await codec.decode({ kind: route.method, body: await body(), limits }, signal)) as ExamplesDecoded;
      const modelSpec = { ...spec, signatureName: decoded.signatureName };
      const { examples, context: exampleContext } = decoded;
      if (route.method === 'classify') return encodeClassifyResponse((await classify(manager, { modelSpec, examples, context: exampleContext, signal })).classifications);
      return encodeRegressResponse((await regress(manager, { modelSpec, examples, context: exampleContext, signal })).regressions);
    }
  }
}

export function startRestServer(options: RestServerOptions): Promise<RestServer> {
  const { manager, metrics } = options;
  const limits = options.decodeLimits ?? DEFAULT_DECODE_LIMITS;
  const codec = new RestCodec({ maxBodyBytes: options.maxBodyBytes, limits, ...(options.codecThreads !== undefined ? { threads: options.codecThreads } : {}) });
  const apiContext: ApiContext = {
    manager,
    codec,
    limits,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
  const book = new RequestBook();
  const send = (res: http.ServerResponse, answer: Answer) => sendAnswer(res, answer, book.draining);

  const serveModelApi = async (req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<{ answer: Answer; route?: ModelRoute }> => {
    let route: ModelRoute;
    try {
      route = matchModelRoute(req.method ?? '', pathname);
    } catch (error) {
      req.resume();
      return { answer: errorAnswer(error) };
    }
    try {
      const body = () => readBody(req, options.maxBodyBytes);
      if (route.method === 'status' || route.method === 'metadata') req.resume();
      const text = await guarded(res, options.timeoutMs, (abort) => runModelApi(apiContext, route, body, abort));
      return { answer: ok(text), route };
    } catch (error) {
      return { answer: errorAnswer(error), route };
    }
  };

  // The Open Inference Protocol v2 (src/server/v2/), on the same port and engine path.
  const v2Context = {
    manager,
    codec,
    limits,
    maxResponseBytes: apiContext.maxResponseBytes,
    ready: () => !book.draining && manager.isReady(),
  };
  const serveV2Api = async (req: http.IncomingMessage, res: http.ServerResponse, pathname: string, started: bigint): Promise<void> => {
    let answer: Answer;
    let labels = v2Labels(req.method ?? '', pathname);
    let bodyRead = false;
    try {
      const v2 = await guarded(res, options.timeoutMs, (abort) =>
        serveV2(
          req,
          pathname,
          () => {
            bodyRead = true;
            return readBody(req, options.maxBodyBytes);
          },
          v2Context,
          abort.signal,
        ),
      );
      answer = { status: v2.status, code: 'OK', body: v2.body, ...(v2.contentType ? { contentType: v2.contentType } : {}), ...(v2.headers ? { headers: v2.headers } : {}) };
    } catch (error) {
      answer = errorAnswer(error);
    }
    if (!bodyRead) req.resume();
    send(res, answer);
    metrics?.recordRequest({ entrypoint: 'REST', api: labels.api, model: labels.model, code: answer.code, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    const pathname = requestPathname(req);
    if (pathname === LIVENESS_PATH) {
      req.resume();
      return send(res, ok('{"status": "alive"}'));
    }
    if (pathname === READINESS_PATH) {
      req.resume();
      const ready = !book.draining && manager.isReady();
      const why = book.draining ? 'shutting down' : ready ? 'ready' : 'not every configured model has an AVAILABLE version';
      return send(res, { status: ready ? 200 : 503, code: ready ? 'OK' : 'UNAVAILABLE', body: `{"status": "${why}"}` });
    }
    if (metrics && options.prometheusPath && pathname === options.prometheusPath) {
      req.resume();
      const text = await metrics.exposition();
      return send(res, { status: 200, code: 'OK', body: text, contentType: metrics.contentType });
    }
    if (pathname === '/v2' || pathname.startsWith('/v2/')) return serveV2Api(req, res, pathname, started);
    if (!pathname.startsWith('/v1/')) {
      req.resume();
      return send(res, { status: 404, code: 'NOT_FOUND', body: encodeError(`Not found: ${req.method} ${pathname} (the API is under /v1/models/ and /v2/)`) });
    }
    const { answer, route } = await serveModelApi(req, res, pathname);
    send(res, answer);
    metrics?.recordRequest({
      entrypoint: 'REST',
      api: route?.method === 'status' ? 'get_model_status' : route?.method === 'metadata' ? 'get_model_metadata' : (route?.method ?? 'unknown'),
      model: route?.name ?? '',
      code: answer.code,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    });
  };

  const server = http.createServer((req, res) => {
    book.track(handle(req, res).catch((error: unknown) => send(res, errorAnswer(error))));
  });
  // Slow or idle clients must not hold a draining server open past its grace.
  server.keepAliveTimeout = 5000;
  // Behind front-door threads its only clients are their keep-alive agents: an idle connection closed
  // here as a thread reuses it would fail that request (the keep-alive race), so none is closed for idling.
  if (options.socketPath !== undefined) server.keepAliveTimeout = 0;

  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      void codec.close();
      reject(error);
    };
    server.once('error', failed);
    const listening = () => {
      server.off('error', failed);
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? (address as AddressInfo).port : 0;
      resolve({
        port,
        beginDrain: () => {
          book.draining = true;
        },
        close: async (graceMs: number) => {
          await drain(server, book, graceMs);
          await codec.close();
        },
      });
    };
    if (options.socketPath !== undefined) server.listen(options.socketPath, listening);
    else server.listen(options.port, options.host, listening);
  });
}
