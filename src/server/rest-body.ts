// Reading a REST request body: size limit (413), gzip/deflate Content-Encoding.
import type http from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';

import type { StatusCode } from '../errors';

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

/** The whole body, decoded from its Content-Encoding, at most `limit` bytes after decoding. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
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
      } else {
        resolve(Buffer.concat(chunks, total));
      }
    };
    stream.on('data', (chunk: Buffer) => {
      if (done) return;
      total += chunk.length;
      if (total > limit) finish(tooLarge(limit));
      else chunks.push(chunk);
    });
    stream.on('end', () => finish(null));
    stream.on('error', (error: Error) => {
      finish(stream === req ? error : new HttpError(400, 'INVALID_ARGUMENT', `Cannot decode the ${encoding} request body: ${error.message}`));
    });
    req.on('aborted', () => finish(new HttpError(400, 'CANCELLED', 'The client closed the request before sending its whole body')));
  });
}
