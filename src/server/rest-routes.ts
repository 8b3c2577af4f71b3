// The URL scheme of TF Serving's REST API:
//   GET  /v1/models/{name}[/versions/{v}|/labels/{l}]            model status
//   GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata   model metadata
//   POST /v1/models/{name}[/versions/{v}|/labels/{l}]:{predict|classify|regress}
import { invalidArgument } from '../engine/errors';

export type RestMethod = 'status' | 'metadata' | 'predict' | 'classify' | 'regress';

export interface ModelRoute {
  method: RestMethod;
  name: string;
  version?: number;
  versionLabel?: string;
}

const MODEL_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+)|\/labels\/([^/:]+))?(?:(\/metadata)|:(predict|classify|regress))?\/?$/;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidArgument(`Malformed request: cannot decode '${segment}'`);
  }
}

/** The model API a request addresses, or an INVALID_ARGUMENT naming what is malformed. */
export function matchModelRoute(httpMethod: string, pathname: string): ModelRoute {
  const match = MODEL_PATH.exec(pathname);
  const malformed = () => invalidArgument(`Malformed request: ${httpMethod} ${pathname}`);
  if (!match) throw malformed();
  const [, name, version, label, metadata, verb] = match;
  let method: RestMethod;
  if (verb) {
    if (httpMethod !== 'POST') throw invalidArgument(`Malformed request: ${httpMethod} ${pathname} (:${verb} takes POST)`);
    method = verb as RestMethod;
  } else {
    if (httpMethod !== 'GET') throw invalidArgument(`Malformed request: ${httpMethod} ${pathname} (status and metadata take GET)`);
    method = metadata ? 'metadata' : 'status';
  }
  const route: ModelRoute = { method, name: decode(name!) };
  if (version !== undefined) {
    const parsed = Number(version);
    if (!Number.isSafeInteger(parsed)) throw invalidArgument(`Malformed request: version ${version} is out of range`);
    route.version = parsed;
  }
  if (label !== undefined) route.versionLabel = decode(label);
  return route;
}
