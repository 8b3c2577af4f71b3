// A front-door thread's REST server: node:http on connections this
// thread's event loop accepts from the shared listening socket. A /v1
// `:predict` or a v2 infer whose body is under the inline size runs here,
// from body bytes to answer bytes (the hot path's own jobs,
// hot-path/rest-predict.ts and v2-rest-infer.ts, on a version the main
// thread leased); every other request, and a body large
// enough for the REST codec's heap-capped workers, is passed to the main
// thread's REST server (a unix socket), which answers it as it always has.
import http from 'node:http';

import { runJobHere } from '../../engine/thread-models';
import { readBody } from '../rest-body';
import { INLINE_BODY_BYTES } from '../rest-codec/pool';
import { type Answer, errorAnswer, guarded, ok, requestPathname, sendAnswer } from '../rest-answer';
import { RequestBook, drain } from '../rest-drain';
import { matchModelRoute } from '../rest-routes';
import type { ModelSpecInput } from '../../serving/inference';
import { v2ModelSpec } from '../../serving/v2/infer';
import { inferAnswer, matchV2Route } from '../v2/rest';
import { HEADER_LENGTH_HEADER, headerLength } from '../v2/rest-json';
import type { V2RestInferAnswer, V2RestInferPayload } from '../hot-path/v2-rest-infer';
import type { RestPredictPayload } from '../hot-path/rest-predict';
import type { Door } from './grpc-door';
import type { MainLink } from './main-link';
import { adoptSocket } from './adopt-socket';
import type { FrontDoorConfig, RestDoorConfig } from './protocol';

// Hop-by-hop (RFC 9110 7.6.1): each connection's own.
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

/** Run here, or pass to the main thread (with the body already read, when it was). */
type Outcome = { answer: Answer } | { passOn: Uint8Array | null };

/** A request this thread runs itself: TF Serving's :predict or the v2 protocol's infer, with the version its URL names. */
interface HotRoute {
  /** The metrics' API label, as the main thread's server gives it. */
  api: 'predict' | 'v2_infer';
  spec: ModelSpecInput;
}

function hotRoute(req: http.IncomingMessage, pathname: string): HotRoute | null {
  if (req.method !== 'POST') return null;
  // A URL the main thread would refuse is passed on, and answered as it always has been.
  try {
    if (pathname.startsWith('/v1/') && pathname.endsWith(':predict')) {
      const route = matchModelRoute(req.method, pathname);
      return route.method === 'predict' ? { api: 'predict', spec: { name: route.name, version: route.version, versionLabel: route.versionLabel } } : null;
    }
    if (pathname.startsWith('/v2/models/')) {
      const route = matchV2Route(req.method, pathname);
      return route?.kind === 'infer' ? { api: 'v2_infer', spec: v2ModelSpec(route.name, route.version) } : null;
    }
  } catch {
    return null;
  }
  return null;
}

export async function startRestDoor(config: RestDoorConfig, door: FrontDoorConfig, link: MainLink): Promise<Door> {
  const book = new RequestBook();
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const send = (res: http.ServerResponse, answer: Answer) => sendAnswer(res, answer, book.draining);

  /** Sends the request to the main thread's server and its answer back; `body`: already read (and decoded), else streamed. */
  const passOn = (req: http.IncomingMessage, res: http.ServerResponse, body: Uint8Array | null): Promise<void> =>
    new Promise<void>((resolve) => {
      // Gone while its body was read: nothing to pass on (and no main-thread work to hold for nobody).
      if (res.closed || res.destroyed) {
        resolve();
        return;
      }
      const headers: http.OutgoingHttpHeaders = {};
      for (const [key, value] of Object.entries(req.headers)) if (!HOP_HEADERS.has(key)) headers[key] = value;
      if (body !== null) {
        // What was read is the decoded body: it goes on as plain bytes.
        delete headers['content-encoding'];
        delete headers['transfer-encoding'];
        headers['content-length'] = body.byteLength;
      }
      const upstream = http.request({ socketPath: config.upstreamSocket, method: req.method, path: req.url, headers, agent }, (answer) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [key, value] of Object.entries(answer.headers)) if (!HOP_HEADERS.has(key)) out[key] = value;
        if (book.draining) out.connection = 'close';
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
        answer.on('end', () => {
          // Answered before the whole body went on (an early 4xx): the rest is read and dropped here, so the connection stays usable.
          if (body === null && !req.readableEnded) {
            req.unpipe(upstream);
            req.resume();
          }
          resolve();
        });
        answer.on('error', () => {
          if (!res.writableFinished) res.destroy();
          resolve();
        });
      });
      upstream.on('error', (error) => {
        // After the answer is out, a failure of the hop (the unsent rest of a body) is not the client's:
        // destroying the response then would reset the client's keep-alive connection under its next request.
        if (res.writableFinished) return;
        if (res.headersSent) res.destroy();
        else send(res, { status: 503, code: 'UNAVAILABLE', body: JSON.stringify({ error: `the server could not answer: ${error.message}` }) });
        resolve();
      });
      // A client that leaves gives the request up on the main thread too.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
        resolve();
      });
      if (body !== null) upstream.end(body);
      else req.pipe(upstream);
    });

  const runHere = async (req: http.IncomingMessage, res: http.ServerResponse, hot: HotRoute): Promise<Outcome> => {
    try {
      return await guarded(res, config.timeoutMs, async (abort): Promise<Outcome> => {
        const body = await readBody(req, config.maxBodyBytes);
        // Large bodies: the main thread's REST codec parses them in workers it can stop mid-parse.
        if (body.byteLength >= INLINE_BODY_BYTES) return { passOn: body };
        const limits = door.decodeLimits;
        const { maxResponseBytes } = config;
        // Checked before the lease, in the order the main thread checks it.
        const jsonLength = hot.api === 'v2_infer' ? headerLength(req.headers[HEADER_LENGTH_HEADER]) : null;
        const grant = await link.lease(hot.spec);
        if ('proxy' in grant) return { passOn: body };
        const { target } = grant;
        if (hot.api === 'predict') {
          const payload: RestPredictPayload = { body, limits, maxResponseBytes, target };
          const result = await link.runOn(grant, () => runJobHere(grant.ticket, 'restPredict', payload, abort.cancelFlag));
          return { answer: ok(result.value as Uint8Array) };
        }
        const payload: V2RestInferPayload = { body, headerLength: jsonLength, limits, maxResponseBytes, target };
        const result = await link.runOn(grant, () => runJobHere(grant.ticket, 'v2RestInfer', payload, abort.cancelFlag));
        const answer = inferAnswer(result.value as V2RestInferAnswer);
        return { answer: { ...answer, code: 'OK' } };
      });
    } catch (error) {
      return { answer: errorAnswer(error) };
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    const pathname = requestPathname(req);
    const hot = hotRoute(req, pathname);
    if (hot === null) return passOn(req, res, null);
    const outcome = await runHere(req, res, hot);
    if ('passOn' in outcome) return passOn(req, res, outcome.passOn);
    send(res, outcome.answer);
    link.send({ kind: 'rest', record: { entrypoint: 'REST', api: hot.api, model: hot.spec.name, code: outcome.answer.code, seconds: Number(process.hrtime.bigint() - started) / 1e9 } });
  };

  const server = http.createServer((req, res) => {
    book.track(handle(req, res).catch((error: unknown) => send(res, errorAnswer(error))));
  });
  // As the main thread's REST server (rest.ts).
  server.keepAliveTimeout = 5000;
  await adoptSocket(server, config.fd);
  return {
    close: async (graceMs) => {
      await drain(server, book, graceMs);
      agent.destroy();
    },
  };
}
