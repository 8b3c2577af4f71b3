// Reading a REST request body: size limit (413), gzip/deflate Content-Encoding.
import type http from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';

import type { StatusCode } from '../engine/errors';

/** An error whose HTTP status is not the one TF Serving maps its status code to. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: StatusCode,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'RESOURCE_EXHAUSTED', `Request body is larger than the limit of ${limit} bytes (--rest_api_max_body_bytes)`);
}

/**
 * The whole body, decoded from its Content-Encoding, at most `limit` bytes
 * after decoding. It owns its ArrayBuffer (never a slice of Node's pool), so
 * that it can be transferred to a worker. When Content-Length is declared
 * (and no encoding), chunks are copied into place as they arrive, so a large
 * body never costs one long copy on the event loop.
 */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let stream: Readable;
  let decoder: zlib.Gunzip | zlib.Inflate | null = null;
  if (encoding === 'gzip' || encoding === 'x-gzip') stream = req.pipe((decoder = zlib.createGunzip()));
  else if (encoding === 'deflate') stream = req.pipe((decoder = zlib.createInflate()));
  else if (encoding === 'identity' || encoding === '') stream = req;
  else return Promise.reject(new HttpError(415, 'UNIMPLEMENTED', `Unsupported Content-Encoding '${encoding}': send the body as is or with gzip`));

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const into = stream === req && Number.isSafeInteger(declared) && declared >= 0 ? new Uint8Array(declared) : null;
    let total = 0;
    let done = false;
    const finish = (error: Error | null) => {
      if (done) return;
      done = true;
      if (error) {
        if (decoder) {
          req.unpipe(decoder);
          decoder.destroy();
        }
        // Drop the rest of the upload so that the answer can still be read.
        req.resume();
        reject(error);
      } else if (into) {
        resolve(total === into.length ? into : into.slice(0, total));
      } else {
        const body = new Uint8Array(total);
        let at = 0;
        for (const chunk of chunks) {
          body.set(chunk, at);
          at += chunk.length;
        }
        resolve(body);
      }
    };
    stream.on('data', (chunk: Buffer) => {
      if (done) return;
      if (into && total + chunk.length > into.length) {
        // More than Content-Length said: node:http does not let that happen; refuse rather than grow.
        finish(new HttpError(400, 'INVALID_ARGUMENT', 'The request body is longer than its Content-Length'));
        return;
      }
      if (into) into.set(chunk, total);
      total += chunk.length;
      if (total > limit) finish(tooLarge(limit));
      else if (!into) chunks.push(chunk);
    });
    stream.on('end', () => finish(null));
    stream.on('error', (error: Error) => {
      finish(stream === req ? error : new HttpError(400, 'INVALID_ARGUMENT', `Cannot decode the ${encoding} request body: ${error.message}`));
    });
    req.on('aborted', () => finish(new HttpError(400, 'CANCELLED', 'The client closed the request before sending its whole body')));
  });
}
