// How a REST request is answered, wherever it runs (the main thread's
// rest.ts, a front-door thread's front-door/rest-door.ts): TF Serving's
// status mapping and error body, the request's deadline and its
// connection as the switch that gives it up.
import type http from 'node:http';

import { type StatusCode, TfServeError } from '../engine/errors';
import { CallAbort } from './call-abort';
import { HttpError } from './rest-body';
import { encodeError } from './rest-json';

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

export interface Answer {
  status: number;
  code: 'OK' | StatusCode;
  /** Text, or UTF-8 bytes written elsewhere (the hot path's answers). */
  body: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string | number>;
}

export function errorAnswer(error: unknown): Answer {
  if (error instanceof HttpError) return { status: error.status, code: error.code, body: encodeError(error.message) };
  const wrapped = TfServeError.from(error);
  return { status: httpStatusOf(wrapped.code), code: wrapped.code, body: encodeError(wrapped.message) };
}

export function ok(body: string | Uint8Array): Answer {
  return { status: 200, code: 'OK', body };
}

/** The request's path, as WHATWG URL parsing reads it (dot segments resolved); the raw URL when it does not parse. */
export function requestPathname(req: http.IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return req.url ?? '/';
  }
}

/** Writes `answer` unless the response is gone; a draining server asks the client to close the connection. */
export function sendAnswer(res: http.ServerResponse, answer: Answer, draining: boolean): void {
  if (res.headersSent || res.destroyed) return;
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  res.writeHead(answer.status, {
    'Content-Type': answer.contentType ?? 'application/json',
    'Content-Length': body.byteLength,
    ...answer.headers,
    ...(draining ? { Connection: 'close' } : {}),
  });
  res.end(body);
}

/**
 * Runs one API request under its deadline (--rest_api_timeout_in_ms; 0 =
 * none) and its connection: a client that goes away before its answer gives
 * the request up, so its decoding job (and a run that has not started) stops
 * instead of working for nobody.
 */
export async function guarded<T>(res: http.ServerResponse, timeoutMs: number, run: (abort: CallAbort) => Promise<T>): Promise<T> {
  // The switch is made lazily (CallAbort): most requests have no deadline
  // and are never given up, and an AbortController costs ~10 µs.
  const abort = new CallAbort();
  let deadline: NodeJS.Timeout | null = null;
  let timedOut: Promise<never> | null = null;
  if (timeoutMs > 0) {
    // A deadline answers on time, whatever the work is doing: it races the work on the signal.
    const { signal } = abort;
    timedOut = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    timedOut.catch(() => undefined);
    deadline = setTimeout(() => abort.abort(new TfServeError('DEADLINE_EXCEEDED', `Request timed out after ${timeoutMs} ms (--rest_api_timeout_in_ms)`)), timeoutMs);
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
}
