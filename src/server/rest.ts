// TF Serving's REST API on node:http, plus liveness, readiness and the
// Prometheus endpoint.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

import { type StatusCode, TfServeError } from '../errors';
import { classify, modelMetadata, modelStatus, predictWith, regress } from '../serving/inference';
import type { DecodeLimits } from '../serving/decode-limits';
import type { ModelManager } from '../serving/model-manager';
import type { ServerMetrics } from './metrics';
import { HttpError, readBody } from './rest-body';
import { decodeExamplesRequest, decodePredictInputs, encodeClassifyResponse, encodeError, encodePredictResponse, encodeRegressResponse, parseRequestBody, signatureNameOf } from './rest-json';
import { encodeMetadataResponse, encodeStatusResponse } from './rest-metadata';
import { type ModelRoute, matchModelRoute } from './rest-routes';

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
  body: string;
  contentType?: string;
}

function errorAnswer(error: unknown): Answer {
  if (error instanceof HttpError) return { status: error.status, code: error.code, body: encodeError(error.message) };
  const wrapped = TfServeError.from(error);
  return { status: httpStatusOf(wrapped.code), code: wrapped.code, body: encodeError(wrapped.message) };
}

function ok(body: string): Answer {
  return { status: 200, code: 'OK', body };
}

async function runModelApi(manager: ModelManager, route: ModelRoute, body: () => Promise<string>, signal: AbortSignal): Promise<string> {
  const spec = { name: route.name, version: route.version, versionLabel: route.versionLabel };
  switch (route.method) {
    case 'status':
      return encodeStatusResponse(modelStatus(manager, spec));
    case 'metadata': {
      const result = modelMetadata(manager, spec);
      return encodeMetadataResponse(result.modelSpec, result.signatureDefMap);
    }
    case 'predict': {
      const doc = parseRequestBody(await body());
      // The signature of the version predict runs on types the JSON.
      const modelSpec = { ...spec, signatureName: signatureNameOf(doc) };
      const result = await predictWith(manager, { modelSpec, signal, decode: (signature) => decodePredictInputs(doc, signature) });
      return encodePredictResponse(result.outputs, result.decoded.format);
    }
    case 'classify':
    case 'regress': {
      const doc = parseRequestBody(await body(), { exactIntegers: true });
      const modelSpec = { ...spec, signatureName: signatureNameOf(doc) };
      const { examples, context } = decodeExamplesRequest(doc, route.method);
      if (route.method === 'classify') return encodeClassifyResponse((await classify(manager, { modelSpec, examples, context, signal })).classifications);
      return encodeRegressResponse((await regress(manager, { modelSpec, examples, context, signal })).regressions);
    }
  }
}

export function startRestServer(options: RestServerOptions): Promise<RestServer> {
  const { manager, metrics } = options;
  const inFlight = new Set<Promise<void>>();
  let draining = false;
  let lastRequestAt = 0;

  const send = (res: http.ServerResponse, answer: Answer) => {
    if (res.headersSent || res.destroyed) return;
    const body = Buffer.from(answer.body, 'utf8');
    res.writeHead(answer.status, {
      'Content-Type': answer.contentType ?? 'application/json',
      'Content-Length': body.length,
      ...(draining ? { Connection: 'close' } : {}),
    });
    res.end(body);
  };

  const serveModelApi = async (req: http.IncomingMessage, pathname: string): Promise<{ answer: Answer; route?: ModelRoute }> => {
    let route: ModelRoute;
    try {
      route = matchModelRoute(req.method ?? '', pathname);
    } catch (error) {
      req.resume();
      return { answer: errorAnswer(error) };
    }
    const controller = new AbortController();
    const deadline = options.timeoutMs > 0 ? setTimeout(() => controller.abort(new TfServeError('DEADLINE_EXCEEDED', `Request timed out after ${options.timeoutMs} ms (--rest_api_timeout_in_ms)`)), options.timeoutMs) : null;
    const timedOut = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    timedOut.catch(() => undefined);
    try {
      const body = async () => (await readBody(req, options.maxBodyBytes)).toString('utf8');
      if (route.method === 'status' || route.method === 'metadata') req.resume();
      const text = await Promise.race([runModelApi(manager, route, body, controller.signal), timedOut]);
      return { answer: ok(text), route };
    } catch (error) {
      return { answer: errorAnswer(error), route };
    } finally {
      if (deadline) clearTimeout(deadline);
    }
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
    if (!pathname.startsWith('/v1/')) {
      req.resume();
      return send(res, { status: 404, code: 'NOT_FOUND', body: encodeError(`Not found: ${req.method} ${pathname} (the API is under /v1/models/)`) });
    }
    const { answer, route } = await serveModelApi(req, pathname);
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
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
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
        },
      });
    });
  });
}
