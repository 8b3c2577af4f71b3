// Structure-aware REST requests: TF Serving's JSON API (row and columnar
// predict, classify, regress, status and metadata URLs), valid bodies
// written as text and then mutated: nesting, number literals, names, b64
// objects, value counts, encodings (gzip, bad UTF-8), and raw bytes.
import zlib from 'node:zlib';

import { mutateBytes } from './mutate.mjs';
import { BAD_NUMBER_TOKENS, EVIL_NAMES, evilName, NUMBER_LITERALS } from './vocab.mjs';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** A leaf value (JSON text) of dtype. */
function leaf(rng, dtype) {
  if (dtype === 'string') return rng.chance(0.2) ? `{"b64": "${Buffer.from(rng.pick(['abc', '', 'x\u00e9'])).toString('base64')}"}` : JSON.stringify(rng.pick(['abc', '', 'Hello', 'tf serve']));
  if (dtype === 'bool') return rng.chance(0.5) ? 'true' : 'false';
  if (dtype.startsWith('float') || dtype === 'bfloat16') return String(rng.range(-40, 40) / 4);
  if (dtype.startsWith('uint')) return String(rng.int(200));
  if (dtype.startsWith('complex')) return String(rng.range(-5, 5));
  return String(rng.range(-100, 100));
}

/** A hostile leaf: odd literals, wrong types, b64 objects, huge numbers. */
function evilLeaf(rng) {
  switch (rng.int(7)) {
    case 0: return rng.pick(NUMBER_LITERALS);
    case 1: return rng.pick(BAD_NUMBER_TOKENS);
    case 2: return rng.pick(['null', 'true', '"1"', '{}', '[]', '{"b64": 1}', '{"b64": "!!!"}', '{"b64": "YWJj", "x": 1}', '{"__proto__": 1}', '"\\ud800"']);
    case 3: return rng.chance(0.02) ? '9'.repeat(100000) : `${'9'.repeat(rng.range(20, 400))}`;
    case 4: return rng.chance(0.02) ? `0.${'1'.repeat(100000)}` : `1${'0'.repeat(rng.range(300, 400))}`;
    case 5: return `{"b64": "${Buffer.from('hello').toString('base64')}"}`;
    default: return JSON.stringify('x'.repeat(rng.int(1000)));
  }
}

/** Nested JSON array text of `shape` whose leaves come from `leafFn`. */
function nested(shape, leafFn, depth = 0) {
  if (depth === shape.length) return leafFn();
  const parts = new Array(shape[depth]);
  for (let i = 0; i < shape[depth]; i++) parts[i] = nested(shape, leafFn, depth + 1);
  return `[${parts.join(',')}]`;
}

/** One input's value (text) for an instance (row format: no batch dim) or a whole tensor (columnar). */
function value(rng, spec, withBatch, notes, batch) {
  let shape = spec.shape.map((d) => (d < 0 ? rng.range(1, 3) : d));
  if (withBatch && spec.shape.length) shape[0] = batch;
  if (!withBatch) shape = shape.slice(1);
  let leafFn = () => leaf(rng, spec.dtype);
  if (rng.chance(0.7)) return nested(shape, leafFn);
  switch (rng.int(6)) {
    case 0: {
      const depth = rng.chance(0.03) ? 100000 : rng.pick([100, 253, 254, 255, 256, 300, rng.range(1, 300)]);
      notes.push(`nested ${depth}`);
      return '['.repeat(depth) + leafFn() + ']'.repeat(depth);
    }
    case 1:
      notes.push('evil leaf');
      leafFn = () => (rng.chance(0.3) ? evilLeaf(rng) : leaf(rng, spec.dtype));
      return nested(shape.length ? shape : [], leafFn);
    case 2:
      notes.push('ragged');
      return `[${nested([2], leafFn)}, ${leafFn()}, [${nested([3], leafFn)}]]`;
    case 3: {
      const n = rng.pick([0, 1, 7, 1000, 3000]);
      notes.push(`flat ${n}`);
      return nested([n], leafFn);
    }
    case 4:
      notes.push('wrong type');
      return rng.pick(['null', '{}', '"abc"', 'true', '{"b64": "YWJj"}', '[[]]', '[{}]', '[null]']);
    default:
      notes.push('other dtype leaves');
      return nested(shape, () => leaf(rng, rng.pick(['string', 'bool', 'float32', 'int64'])));
  }
}

function objectText(entries) {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')}}`;
}

function predictBody(rng, model, sigName, notes) {
  const sig = model.signatures[sigName];
  const entries = [];
  if (sigName !== 'serving_default' || rng.chance(0.3)) entries.push(['signature_name', JSON.stringify(sigName)]);
  const batch = rng.range(1, 3);
  const names = sig.inputs.map((s) => s.name);
  if (rng.chance(0.1)) {
    const evil = evilName(rng);
    notes.push(`input '${evil.slice(0, 20)}'`);
    names[rng.int(names.length)] = evil;
  }
  if (rng.chance(0.5)) {
    notes.unshift('row');
    const single = sig.inputs.length === 1 && rng.chance(0.8);
    const rows = [];
    const n = sig.inputs[0].shape.length === 0 ? 1 : batch;
    for (let i = 0; i < n; i++) {
      rows.push(single ? value(rng, sig.inputs[0], false, notes) : objectText(sig.inputs.map((s, j) => [names[j], value(rng, s, false, notes)])));
    }
    entries.push(['instances', sig.inputs[0].shape.length === 0 && single ? rows[0] : `[${rows.join(', ')}]`]);
  } else {
    notes.unshift('columnar');
    const single = sig.inputs.length === 1 && rng.chance(0.5);
    entries.push(['inputs', single ? value(rng, sig.inputs[0], true, notes, batch) : objectText(sig.inputs.map((s, j) => [names[j], value(rng, s, true, notes, batch)]))]);
  }
  if (rng.chance(0.05)) {
    entries.push([rng.pick(['instances', 'inputs', '__proto__', 'constructor', 'signature_name']), rng.pick(['[1]', '{}', 'null', '"x"'])]);
    notes.push(`extra key ${entries[entries.length - 1][0]}`);
  }
  if (rng.chance(0.05)) {
    entries.push(['signature_name', JSON.stringify(evilName(rng))]);
    notes.push('signature_name evil');
  }
  return objectText(entries);
}

function featureValue(rng, notes) {
  if (rng.chance(0.85)) return String(rng.range(-10, 10) / 2);
  notes.push('odd feature');
  return rng.pick([evilLeaf(rng), '[1, 2, 3]', '[]', '["a", "b"]', '[[1]]', '{"b64": "YWJj"}', '[1, "a"]', `[${'1,'.repeat(500)}1]`]);
}

function exampleText(rng, features, notes) {
  const keys = rng.chance(0.9) ? [rng.pick(features)] : [rng.pick(EVIL_NAMES), rng.pick(features)];
  return objectText(keys.map((k) => [k, featureValue(rng, notes)]));
}

function inferenceBody(rng, model, sigName, notes) {
  const entries = [['signature_name', JSON.stringify(sigName)]];
  const n = rng.chance(0.95) ? rng.range(1, 4) : rng.pick([0, 300]);
  const examples = Array.from({ length: n }, () => exampleText(rng, model.features ?? ['x'], notes));
  entries.push(['examples', rng.chance(0.97) ? `[${examples.join(', ')}]` : rng.pick(['{}', 'null', '"x"', '[1]', '[[]]'])]);
  if (rng.chance(0.25)) {
    entries.push(['context', exampleText(rng, model.features ?? ['x'], notes)]);
    notes.push('context');
  }
  return objectText(entries);
}

/** Percent-encodes a path segment; a lone surrogate (not encodable) goes as invalid UTF-8. */
function segment(name) {
  try {
    return encodeURIComponent(name);
  } catch {
    return encodeURIComponent(name.replace(/[\ud800-\udfff]/g, '')) + '%ED%A0%80';
  }
}

function modelPath(rng, models, modelName, notes) {
  let name = modelName;
  if (rng.chance(0.1)) {
    name = evilName(rng).slice(0, 2000);
    notes.push(`model '${name.slice(0, 20)}'`);
  }
  let p = `/v1/models/${segment(name)}`;
  const model = models[modelName];
  const r = rng.next();
  if (r < 0.1) {
    const v = rng.pick(['1', '2', '123', '0', '99999999999999999999', '9007199254740993', '-1', 'x']);
    p += `/versions/${v}`;
    notes.push(`version ${v}`);
  } else if (r < 0.18) {
    const l = rng.chance(0.5) ? segment(evilName(rng).slice(0, 200)) : rng.pick(['stable', 'canary', '%E0%A4%A', '%']);
    p += `/labels/${l}`;
    notes.push(`label ${l.slice(0, 20)}`);
  } else if (model?.labels && r < 0.4) {
    p += rng.chance(0.5) ? `/labels/${rng.pick(Object.keys(model.labels))}` : `/versions/${rng.pick(Object.values(model.labels))}`;
  }
  return p;
}

/** Encodings of a body: gzip (valid or broken), unknown encodings, bad UTF-8. */
function encode(rng, body, headers, notes) {
  const r = rng.next();
  if (r < 0.05) {
    notes.push('gzip');
    return [zlib.gzipSync(body, { level: 1 }), { ...headers, 'content-encoding': 'gzip' }];
  }
  if (r < 0.07) {
    notes.push('gzip header, broken stream');
    const [mutated] = mutateBytes(rng, zlib.gzipSync(body, { level: 1 }));
    return [mutated, { ...headers, 'content-encoding': 'gzip' }];
  }
  if (r < 0.08) {
    notes.push('content-encoding unknown');
    return [Buffer.from(body), { ...headers, 'content-encoding': rng.pick(['br', 'deflate', 'x-evil', 'gzip, gzip', 'identity']) }];
  }
  if (r < 0.1) {
    notes.push('bad UTF-8');
    const bytes = Buffer.from(body);
    const quote = bytes.indexOf(0x22, rng.int(bytes.length));
    const at = quote >= 0 ? quote + 1 : rng.int(bytes.length + 1);
    return [Buffer.concat([bytes.subarray(0, at), Buffer.from(rng.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xef, 0xbb, 0xbf]])), bytes.subarray(at)]), headers];
  }
  if (r < 0.25) {
    const [mutated, how] = mutateBytes(rng, Buffer.from(body));
    notes.push(how);
    return [mutated, headers];
  }
  return [Buffer.from(body), headers];
}

/** One REST request: { door: 'rest', httpMethod, path, headers, body, what }. */
export function restCase(rng, models) {
  const notes = [];
  const kind = rng.weighted([[50, 'predict'], [12, 'classify'], [12, 'regress'], [10, 'metadata'], [10, 'status'], [6, 'other']]);
  const modelName = kind === 'classify' || kind === 'regress' ? (rng.chance(0.85) ? 'half_plus_two' : rng.pick(Object.keys(models))) : rng.pick(Object.keys(models));
  const model = models[modelName];
  if (kind === 'other') {
    const p = rng.pick(['/healthz', '/readyz', '/', '/v1/', '/v1/models', '/v1/models/', '/v2/models/x', '/v1/models/half_plus_two:explain', '/v1/models/half_plus_two/metadata/x', '/%', '/v1/models/%E0%A4%A', '/v1/models/half_plus_two?x=1', `/v1/models/${'a'.repeat(4000)}`]);
    const httpMethod = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']);
    return { door: 'rest', httpMethod, path: p, headers: {}, body: httpMethod === 'POST' ? Buffer.from('{}') : undefined, what: `${httpMethod} ${p.slice(0, 60)}` };
  }
  let path = modelPath(rng, models, modelName, notes);
  if (kind === 'status' || kind === 'metadata') {
    if (kind === 'metadata') path += '/metadata';
    const httpMethod = rng.chance(0.95) ? 'GET' : 'POST';
    return { door: 'rest', httpMethod, path, headers: {}, body: httpMethod === 'POST' ? Buffer.from('{}') : undefined, what: `${kind} ${modelName} ${notes.join('; ')}` };
  }
  let sigName;
  let text;
  if (kind === 'predict') {
    sigName = rng.pick(Object.keys(model.signatures));
    text = predictBody(rng, model, sigName, notes);
  } else {
    const fitting = Object.entries(model.signatures).filter(([, s]) => s.method === kind).map(([n]) => n);
    sigName = fitting.length && rng.chance(0.9) ? rng.pick(fitting) : rng.pick(Object.keys(model.signatures));
    text = inferenceBody(rng, model, sigName, notes);
  }
  path += `:${kind}`;
  if (rng.chance(0.01)) {
    path = path.replace(`:${kind}`, `:${rng.pick(['predict', 'classify', 'regress'])}`);
    notes.push('verb swapped');
  }
  const [body, headers] = encode(rng, text, JSON_HEADERS, notes);
  const httpMethod = rng.chance(0.98) ? 'POST' : 'GET';
  return { door: 'rest', httpMethod, path, headers, body, what: `${kind} ${modelName}/${sigName} ${notes.join('; ')}`.slice(0, 300) };
}

/** The known-good REST predict: half_plus_two x=[1,2,5] -> [2.5,3,4.5]. */
export function goodRestPredict() {
  return { door: 'rest', httpMethod: 'POST', path: '/v1/models/half_plus_two:predict', headers: JSON_HEADERS, body: Buffer.from('{"instances": [1.0, 2.0, 5.0]}'), what: 'known-good predict' };
}
