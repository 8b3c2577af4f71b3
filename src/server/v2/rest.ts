// The Open Inference Protocol v2 over HTTP, beside TF Serving's /v1 on the
// same port (rest.ts hands it every path under /v2):
//   GET  /v2                                        server metadata
//   GET  /v2/health/live, /v2/health/ready          200 {"live"|"ready": true}, or 400 when not ready
//   GET  /v2/models/{name}[/versions/{v}]           model metadata
//   GET  /v2/models/{name}[/versions/{v}]/ready     200 {"ready": true}, or 400 when not ready
//   POST /v2/models/{name}[/versions/{v}]/infer     inference (JSON, binary-data extension)
// Errors are {"error": "..."} with TF Serving's status mapping (400 bad
// input, 404 unknown model or version, 503 still loading, ...).
import type http from 'node:http';

import { TfServeError, invalidArgument } from '../../engine/errors';
import type { DecodeLimits } from '../../serving/decode-limits';
import type { ModelManager } from '../../serving/model-manager';
import { type V2InferRequest, inferOn, leaseModel, modelMetadata, modelReady, serverMetadata } from '../../serving/v2/infer';
import { jsonString } from '../json-write';
import { INLINE_BODY_BYTES, type RestCodec } from '../rest-codec/pool';
import { runJob } from '../hot-path/run';
import { jobTarget, ownedBytes } from '../hot-path/target';
import type { V2RestInferAnswer, V2RestInferPayload } from '../hot-path/v2-rest-infer';
import { HEADER_LENGTH_HEADER, headerLength } from './rest-json';
import { serverVersion } from './version';

export interface V2RestContext {
  manager: ModelManager;
  codec: RestCodec;
  limits: DecodeLimits;
  maxResponseBytes: number;
  /** The server is ready (models AVAILABLE, not draining). */
  ready(): boolean;
}

/** What rest.ts sends: status, body, extra headers (metrics labels come from v2Labels). */
export interface V2Answer {
  status: number;
  body: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string | number>;
}

type V2Route =
  | { kind: 'server_metadata' | 'live' | 'server_ready' }
  | { kind: 'model_metadata' | 'model_ready' | 'infer'; name: string; version?: string };

const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|infer))?\/?$/;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidArgument(`Malformed request: cannot decode '${segment}'`);
  }
}

/** The v2 endpoint a request addresses; null for a path under /v2 that is none (404). */
export function matchV2Route(method: string, pathname: string): V2Route | null {
  const want = (route: V2Route, verb: 'GET' | 'POST'): V2Route => {
    if (method !== verb) throw invalidArgument(`Malformed request: ${method} ${pathname} (this endpoint takes ${verb})`);
    return route;
  };
  if (pathname === '/v2' || pathname === '/v2/') return want({ kind: 'server_metadata' }, 'GET');
  if (pathname === '/v2/health/live') return want({ kind: 'live' }, 'GET');
  if (pathname === '/v2/health/ready') return want({ kind: 'server_ready' }, 'GET');
  const match = MODEL_PATH.exec(pathname);
  if (!match) return null;
  const [, name, version, verb] = match;
  const model = { name: decode(name!), ...(version !== undefined ? { version: decode(version) } : {}) };
  if (verb === 'infer') return want({ kind: 'infer', ...model }, 'POST');
  return want({ kind: verb === 'ready' ? 'model_ready' : 'model_metadata', ...model }, 'GET');
}

/** The metrics labels of a /v2 request, best effort (a malformed one is just 'v2'). */
export function v2Labels(method: string, pathname: string): { api: string; model: string } {
  try {
    const route = matchV2Route(method, pathname);
    if (!route) return { api: 'v2', model: '' };
    return { api: `v2_${route.kind}`, model: 'name' in route ? route.name : '' };
  } catch {
    return { api: 'v2', model: '' };
  }
}

function json(body: string): V2Answer {
  return { status: 200, body };
}

/** An infer answer: JSON, or JSON then binary outputs (the binary-data extension: octet-stream and the JSON's length in a header). */
export function inferAnswer({ body, headerLength: jsonLength }: V2RestInferAnswer): V2Answer {
  if (jsonLength === null) return { status: 200, body };
  return { status: 200, body, contentType: 'application/octet-stream', headers: { 'Inference-Header-Content-Length': jsonLength } };
}

/**
 * Answers one /v2 request. `body()` reads the request body (size limit,
 * Content-Encoding); `signal` is the request's deadline and disconnect.
 * Errors are thrown as TfServeErrors; rest.ts maps them to statuses.
 */
export async function serveV2(req: http.IncomingMessage, pathname: string, body: () => Promise<Uint8Array>, context: V2RestContext, signal: AbortSignal): Promise<V2Answer> {
  const route = matchV2Route(req.method ?? '', pathname);
  if (!route) throw new TfServeError('NOT_FOUND', `Not found: ${req.method} ${pathname} (v2 endpoints: /v2, /v2/health/{live,ready}, /v2/models/{name}[/versions/{v}][/ready|/infer])`);
  const { manager } = context;
  switch (route.kind) {
    case 'server_metadata': {
      const meta = serverMetadata(serverVersion());
      return json(`{"name": ${jsonString(meta.name)}, "version": ${jsonString(meta.version)}, "extensions": ${JSON.stringify(meta.extensions)}}`);
    }
    case 'live':
      return json('{"live": true}');
    case 'server_ready':
      if (!context.ready()) throw invalidArgument('the server is not ready: not every configured model has an AVAILABLE version, or it is shutting down');
      return json('{"ready": true}');
    case 'model_ready':
      if (!modelReady(manager, route.name, route.version)) {
        throw invalidArgument(`model '${route.name}'${route.version ? ` version ${route.version}` : ''} is not ready`);
      }
      return json('{"ready": true}');
    case 'model_metadata': {
      const signature = new URL(req.url ?? '/', 'http://localhost').searchParams.get('signature_name') ?? undefined;
      const meta = modelMetadata(manager, route.name, route.version, signature);
      return json(JSON.stringify(meta));
    }
    case 'infer': {
      const bytes = await body();
      const jsonLength = headerLength(req.headers[HEADER_LENGTH_HEADER]);
      // Unknown models and versions are answered 404 before the body is decoded.
      const lease = leaseModel(manager, route.name, route.version);
      try {
        // The hot path, as /v1's :predict: a body under the inline size is decoded, run and its answer written where the version runs.
        if (bytes.byteLength < INLINE_BODY_BYTES) {
          const own = ownedBytes(bytes);
          const payload: V2RestInferPayload = { body: own, headerLength: jsonLength, limits: context.limits, maxResponseBytes: context.maxResponseBytes, target: jobTarget(lease) };
          return inferAnswer(await runJob<V2RestInferAnswer>(lease, 'v2RestInfer', payload, { signal }, [own.buffer as ArrayBuffer]));
        }
        const request = (await context.codec.decode({ kind: 'v2infer', body: bytes, headerLength: jsonLength, limits: context.limits }, signal)) as { kind: 'v2infer'; request: V2InferRequest };
        const result = await inferOn(lease, request.request, signal);
        // Large answers are written by a codec worker, as /v1's are.
        const answer = await context.codec.encodeV2(result, request.request.parameters, context.maxResponseBytes, signal);
        if (answer.binary.length === 0) return json(answer.json);
        const header = Buffer.from(answer.json, 'utf8');
        return inferAnswer({ body: Buffer.concat([header, ...answer.binary]), headerLength: header.byteLength });
      } finally {
        lease.release();
      }
    }
  }
}
