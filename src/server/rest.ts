// TF Serving's REST API on node:http, plus liveness, readiness and the
// Prometheus endpoint.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

import { type StatusCode, TfServeError } from '../engine/errors';
import { DEFAULT_SIGNATURE } from '../engine/model';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../serving/decode-limits';
import { classify, modelMetadata, modelStatus, predictOn, regress } from '../serving/inference';
import type { ModelManager } from '../serving/model-manager';
import type { ServerMetrics } from './metrics';
import { HttpError, readBody } from './rest-body';
import { jobTarget, ownedBytes } from './hot-path/target';
import { CallAbort } from './call-abort';
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

/** While draining, how long no new request must arrive (with none in flight) before connections are dropped. */
const QUIET_MS = 50;
const POLL_MS = 10;

export interface RestServerOptions {
  manager: ModelManager;
  host: string;
  /** 0 = any free port. */
  port: number;
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
  readonly port: number;
  /** Stops accepting connections, lets requests in flight finish for up to graceMs, then drops what is left. */
  close(graceMs: number): Promise<void>;
}

/** TF Serving's mapping of status codes to HTTP statuses. */
const HTTP_STATUS: Record<'OK' | StatusCode, number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
};

function httpStatusOf(code: 'OK' | StatusCode): number {
  return HTTP_STATUS[code] ?? 500;
}

interface Answer {
  status: number;
  code: 'OK' | StatusCode;
  /** Text, or UTF-8 bytes written elsewhere (the hot path's answers). */
  body: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string | number>;
}

function errorAnswer(error: unknown): Answer {
  if (error instanceof HttpError) return { status: error.status, code: error.code, body: encodeError(error.message) };
  const wrapped = TfServeError.from(error);
  return { status: httpStatusOf(wrapped.code), code: wrapped.code, body: encodeError(wrapped.message) };
}

function ok(body: string | Uint8Array): Answer {
  return { status: 200, code: 'OK', body };
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
  const inFlight = new Set<Promise<void>>();
  let draining = false;
  let lastRequestAt = 0;

  const send = (res: http.ServerResponse, answer: Answer) => {
    if (res.headersSent || res.destroyed) return;
    const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
    res.writeHead(answer.status, {
      'Content-Type': answer.contentType ?? 'application/json',
      'Content-Length': body.byteLength,
      ...answer.headers,
      ...(draining ? { Connection: 'close' } : {}),
    });
    res.end(body);
  };

  /**
   * Runs one API request under its deadline (--rest_api_timeout_in_ms) and
   * its connection: a client that goes away before its answer gives the
   * request up, so its decoding job (and a run that has not started) stops
   * instead of holding a codec worker for nobody.
   */
  const guarded = async <T>(res: http.ServerResponse, run: (abort: CallAbort) => Promise<T>): Promise<T> => {
    // The switch is made lazily (CallAbort): most requests have no deadline
    // and are never given up, and an AbortController costs ~10 µs.
    const abort = new CallAbort();
    let deadline: NodeJS.Timeout | null = null;
    let timedOut: Promise<never> | null = null;
    if (options.timeoutMs > 0) {
      // A deadline answers on time, whatever the work is doing: it races the work on the signal.
      const { signal } = abort;
      timedOut = new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      timedOut.catch(() => undefined);
      deadline = setTimeout(() => abort.abort(new TfServeError('DEADLINE_EXCEEDED', `Request timed out after ${options.timeoutMs} ms (--rest_api_timeout_in_ms)`)), options.timeoutMs);
    }
    const gone = () => {
      if (!res.writableFinished) abort.abort(new TfServeError('CANCELLED', 'The client closed the connection before the answer'));
    };
    res.once('close', gone);
    try {
      const work = run(abort);
      return await (timedOut ? Promise.race([work, timedOut]) : work);
    } finally {
      if (deadline) clearTimeout(deadline);
      res.off('close', gone);
    }
  };

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
      const text = await guarded(res, (abort) => runModelApi(apiContext, route, body, abort));
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
    ready: () => !draining && manager.isReady(),
  };
  const serveV2Api = async (req: http.IncomingMessage, res: http.ServerResponse, pathname: string, started: bigint): Promise<void> => {
    let answer: Answer;
    let labels = v2Labels(req.method ?? '', pathname);
    let bodyRead = false;
    try {
      const v2 = await guarded(res, (abort) =>
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
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      pathname = req.url ?? '/';
    }
    if (pathname === LIVENESS_PATH) {
      req.resume();
      return send(res, ok('{"status": "alive"}'));
    }
    if (pathname === READINESS_PATH) {
      req.resume();
      const ready = !draining && manager.isReady();
      const why = draining ? 'shutting down' : ready ? 'ready' : 'not every configured model has an AVAILABLE version';
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
    lastRequestAt = Date.now();
    const task = handle(req, res)
      .catch((error: unknown) => send(res, errorAnswer(error)))
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  });
  // Slow or idle clients must not hold a draining server open past its grace.
  server.keepAliveTimeout = 5000;

  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      void codec.close();
      reject(error);
    };
    server.once('error', failed);
    server.listen(options.port, options.host, () => {
      server.off('error', failed);
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        close: async (graceMs: number) => {
          draining = true;
          const drainStart = Date.now();
          const deadline = drainStart + graceMs;
          // Connections and requests the kernel already holds are taken in before the listener closes.
          await new Promise((done) => setImmediate(done));
          // net.Server's close stops listening without dropping idle keep-alive connections,
          // on which a request may already be under way.
          const closed = new Promise<void>((done) => net.Server.prototype.close.call(server, () => done()));
          while (Date.now() < deadline) {
            const quietFor = Date.now() - Math.max(lastRequestAt, drainStart);
            if (inFlight.size === 0 && quietFor >= QUIET_MS) break;
            await new Promise((done) => setTimeout(done, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
          }
          // Every request is answered (or the grace is over): drop the connections left.
          server.closeAllConnections();
          await closed;
          await codec.close();
        },
      });
    });
  });
}
