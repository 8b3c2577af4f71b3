// Structure-aware gRPC requests: valid messages for the served models,
// built with protobufjs from the repo's proto/ files, then mutated field by
// field (shapes, dtypes, value counts, encodings, names, versions), and
// sometimes byte by byte.
import { createRequire } from 'node:module';
import path from 'node:path';

import { REPO_ROOT } from '../paths.mjs';
import { mutateBytes } from './mutate.mjs';
import { evilName, evilShape, NUMBER_LITERALS } from './vocab.mjs';

const require = createRequire(import.meta.url);
const { servingType } = require(path.join(REPO_ROOT, 'dist', 'src', 'serving', 'protos.js'));

const PREDICTION = '/tensorflow.serving.PredictionService/';
const MODEL_SERVICE = '/tensorflow.serving.ModelService/';
export const GRPC_METHODS = {
  Predict: [PREDICTION + 'Predict', 'tensorflow.serving.PredictRequest'],
  Classify: [PREDICTION + 'Classify', 'tensorflow.serving.ClassificationRequest'],
  Regress: [PREDICTION + 'Regress', 'tensorflow.serving.RegressionRequest'],
  MultiInference: [PREDICTION + 'MultiInference', 'tensorflow.serving.MultiInferenceRequest'],
  GetModelMetadata: [PREDICTION + 'GetModelMetadata', 'tensorflow.serving.GetModelMetadataRequest'],
  GetModelStatus: [MODEL_SERVICE + 'GetModelStatus', 'tensorflow.serving.GetModelStatusRequest'],
};
const TYPES = Object.fromEntries(Object.entries(GRPC_METHODS).map(([k, [, type]]) => [k, servingType(type)]));

// tensorflow.DataType numbers and how each dtype's values travel.
const DT = {
  float32: [1, 'floatVal', 4], float64: [2, 'doubleVal', 8], int32: [3, 'intVal', 4], uint8: [4, 'intVal', 1],
  int16: [5, 'intVal', 2], int8: [6, 'intVal', 1], string: [7, 'stringVal', 0], complex64: [8, 'scomplexVal', 8],
  int64: [9, 'int64Val', 8], bool: [10, 'boolVal', 1], bfloat16: [14, 'halfVal', 2], uint16: [17, 'intVal', 2],
  complex128: [18, 'dcomplexVal', 16], float16: [19, 'halfVal', 2], uint32: [22, 'uint32Val', 4], uint64: [23, 'uint64Val', 8],
};
const DT_NAMES = Object.keys(DT);
const BAD_ENUMS = [0, 11, 12, 13, 15, 16, 20, 21, 24, 99, 101, 119, 999, 2 ** 31 - 1, -1];
const VAL_FIELDS = ['floatVal', 'doubleVal', 'intVal', 'stringVal', 'scomplexVal', 'int64Val', 'boolVal', 'dcomplexVal', 'uint32Val', 'uint64Val', 'halfVal'];

/** A map field's object: null prototype so that '__proto__' is an ordinary key. */
function mapOf(entries) {
  const map = Object.create(null);
  for (const [k, v] of entries) map[k] = v;
  return map;
}

function value(rng, field) {
  switch (field) {
    case 'floatVal':
    case 'doubleVal':
      return rng.chance(0.1) ? Number(rng.pick(NUMBER_LITERALS)) : rng.range(-100, 100) / 4;
    case 'stringVal': {
      if (rng.chance(0.1)) return rng.bytes(rng.int(8));
      return Buffer.from(rng.pick(['abc', '', 'Hello', 'x'.repeat(rng.int(40)), '\u00e9\u4e2d']));
    }
    case 'boolVal': return rng.chance(0.5);
    case 'halfVal': return rng.chance(0.1) ? rng.pick([65535, 65536, -1, 2 ** 31]) : rng.int(0x8000);
    case 'int64Val': return rng.chance(0.1) ? rng.pick([2 ** 53 - 1, -(2 ** 53), 2 ** 63, -1]) : rng.range(-1000, 1000);
    case 'uint32Val': return rng.chance(0.1) ? 2 ** 32 - 1 : rng.int(1000);
    case 'uint64Val': return rng.chance(0.1) ? 2 ** 53 : rng.int(1000);
    default: return rng.chance(0.1) ? rng.pick([2 ** 31 - 1, -(2 ** 31), 255, 256, 65536, -129]) : rng.range(-100, 100);
  }
}

function values(rng, field, count) {
  const out = new Array(count);
  for (let i = 0; i < count; i++) out[i] = value(rng, field);
  return out;
}

/** Element count of a small, valid concrete shape (callers keep it small). */
const product = (shape) => shape.reduce((a, b) => a * b, 1);

/** A valid TensorProto for input spec {dtype, shape}, then (maybe) mutated; notes what changed. */
function tensor(rng, spec, notes) {
  let shape = spec.shape.map((d) => (d < 0 ? rng.range(1, 3) : d));
  let [dtype, field, width] = DT[spec.dtype];
  let count = product(shape) * (field === 'scomplexVal' || field === 'dcomplexVal' ? 2 : 1);
  const t = { dtype, tensorShape: { dim: shape.map((size) => ({ size })) } };
  let useContent = width > 0 && rng.chance(0.25);
  const mutations = rng.chance(0.2) ? 0 : rng.range(1, 2);
  let extraField;
  for (let m = 0; m < mutations; m++) {
    switch (rng.int(7)) {
      case 0:
        shape = evilShape(rng, shape);
        t.tensorShape = { dim: shape.map((size) => ({ size })) };
        if (rng.chance(0.1)) t.tensorShape.unknownRank = true;
        notes.push(`shape [${shape.length > 8 ? `rank ${shape.length}` : shape.join(',')}]`);
        break;
      case 1: {
        if (rng.chance(0.5)) {
          t.dtype = rng.pick(BAD_ENUMS);
          notes.push(`dtype enum ${t.dtype}`);
        } else {
          const other = rng.pick(DT_NAMES);
          [t.dtype, field, width] = DT[other];
          notes.push(`dtype ${other}`);
        }
        break;
      }
      case 2:
        count = rng.pick([0, 1, count + 1, Math.max(0, count - 1), count * 2, rng.int(200)]);
        notes.push(`count ${count}`);
        break;
      case 3:
        useContent = !useContent;
        if (useContent && width === 0) width = 1;
        notes.push(useContent ? 'tensor_content' : '*_val');
        break;
      case 4:
        extraField = rng.pick(VAL_FIELDS);
        notes.push(`also ${extraField}`);
        break;
      case 5:
        if (rng.chance(0.5)) t.versionNumber = rng.pick([-1, 1, 2 ** 31 - 1]);
        t.tensorShape.dim.forEach((d) => {
          if (rng.chance(0.3)) d.name = evilName(rng);
        });
        notes.push('dim names/version_number');
        break;
      default:
        // Large but bounded: a value list up to a few thousand long (rare, to keep requests cheap).
        count = rng.chance(0.2) ? rng.range(1000, 4000) : rng.range(10, 300);
        notes.push(`many values ${count}`);
    }
  }
  if (useContent) {
    let bytes = count * width;
    if (rng.chance(0.2)) bytes += rng.pick([-1, 1, 3]);
    t.tensorContent = rng.bytes(Math.max(0, bytes));
  } else {
    t[field] = values(rng, field, count);
  }
  if (extraField) t[extraField] = values(rng, extraField, rng.range(1, 4));
  return t;
}

/** ModelSpec for model/signature, sometimes with a mutated name, version or label. */
function modelSpec(rng, models, modelName, sigName, notes) {
  const spec = { name: modelName };
  if (sigName !== undefined && (sigName !== 'serving_default' || rng.chance(0.5))) spec.signatureName = sigName;
  const model = models[modelName];
  if (rng.chance(0.15)) {
    switch (rng.int(5)) {
      case 0: spec.name = evilName(rng); notes.push(`model '${spec.name.slice(0, 20)}'`); break;
      case 1: spec.signatureName = evilName(rng); notes.push(`signature '${spec.signatureName.slice(0, 20)}'`); break;
      case 2: spec.version = { value: rng.pick([0, -1, 1, 2, 3, 123, 2 ** 53 - 1, 2 ** 63]) }; notes.push(`version ${spec.version.value}`); break;
      case 3: spec.versionLabel = rng.chance(0.5) ? evilName(rng) : rng.pick(['stable', 'canary', 'latest']); notes.push(`label '${spec.versionLabel.slice(0, 20)}'`); break;
      default: spec.version = { value: 1 }; spec.versionLabel = 'stable'; notes.push('version and label');
    }
  } else if (model?.labels && rng.chance(0.5)) {
    if (rng.chance(0.5)) spec.versionLabel = rng.pick(Object.keys(model.labels));
    else spec.version = { value: rng.pick(Object.values(model.labels)) };
  }
  return spec;
}

function predictRequest(rng, models, notes) {
  const modelName = rng.pick(Object.keys(models));
  const model = models[modelName];
  const sigName = rng.pick(Object.keys(model.signatures));
  const sig = model.signatures[sigName];
  const inputs = sig.inputs.map((spec) => [spec.name, tensor(rng, spec, notes)]);
  if (rng.chance(0.1)) {
    const name = evilName(rng);
    notes.push(`input name '${name.slice(0, 20)}'`);
    if (rng.chance(0.5) && inputs.length) inputs[0][0] = name;
    else inputs.push([name, tensor(rng, sig.inputs[0], notes)]);
  }
  if (rng.chance(0.05)) {
    inputs.length = 0;
    notes.push('no inputs');
  }
  const request = { modelSpec: modelSpec(rng, models, modelName, sigName, notes), inputs: mapOf(inputs) };
  if (rng.chance(0.1)) {
    request.outputFilter = [rng.chance(0.5) ? evilName(rng) : rng.pick(['y', 'doubled', 'out', 'sum', 'count'])];
    if (rng.chance(0.3)) request.outputFilter.push(request.outputFilter[0]);
    notes.push(`output_filter ${JSON.stringify(request.outputFilter).slice(0, 40)}`);
  }
  notes.unshift(`${modelName}/${sigName}`);
  return request;
}

function feature(rng, notes) {
  switch (rng.int(rng.chance(0.9) ? 1 : 4)) {
    case 0: return { floatList: { value: rng.chance(0.9) ? [rng.range(-10, 10) / 2] : values(rng, 'floatVal', rng.int(300)) } };
    case 1: notes.push('int64 feature'); return { int64List: { value: values(rng, 'int64Val', rng.int(4)) } };
    case 2: notes.push('bytes feature'); return { bytesList: { value: values(rng, 'stringVal', rng.int(4)) } };
    default: notes.push('empty feature'); return {};
  }
}

function example(rng, features, notes) {
  const names = rng.chance(0.9) ? [rng.pick(features)] : [evilName(rng), rng.pick(features)];
  return { features: { feature: mapOf(names.map((n) => [n, feature(rng, notes)])) } };
}

function input(rng, features, notes) {
  const n = rng.chance(0.95) ? rng.range(1, 4) : rng.pick([0, 200]);
  const examples = Array.from({ length: n }, () => example(rng, features, notes));
  if (rng.chance(0.3)) {
    notes.push('with context');
    return { exampleListWithContext: { examples, context: example(rng, features, notes) } };
  }
  if (rng.chance(0.03)) {
    notes.push('empty input');
    return {};
  }
  return { exampleList: { examples } };
}

function inferenceRequest(rng, models, method, notes) {
  // Mostly half_plus_two, whose signatures classify and regress; sometimes a model that cannot.
  const modelName = rng.chance(0.85) ? 'half_plus_two' : rng.pick(Object.keys(models));
  const sigs = Object.entries(models[modelName].signatures);
  const fitting = sigs.filter(([, s]) => s.method === method).map(([n]) => n);
  const sigName = fitting.length && rng.chance(0.85) ? rng.pick(fitting) : rng.pick(sigs)[0];
  notes.unshift(`${modelName}/${sigName}`);
  return { modelSpec: modelSpec(rng, models, modelName, sigName, notes), input: input(rng, models.half_plus_two.features, notes) };
}

function multiInference(rng, models, notes) {
  const tasks = [];
  const n = rng.chance(0.9) ? rng.range(1, 3) : rng.pick([0, 20]);
  for (let i = 0; i < n; i++) {
    const sig = rng.pick(['classify_x_to_y', 'regress_x_to_y', 'regress_x2_to_y3', 'serving_default']);
    const methodName = rng.chance(0.85) ? `tensorflow/serving/${sig.startsWith('classify') ? 'classify' : 'regress'}` : rng.pick(['tensorflow/serving/predict', '', evilName(rng)]);
    tasks.push({ modelSpec: modelSpec(rng, models, rng.chance(0.9) ? 'half_plus_two' : rng.pick(Object.keys(models)), sig, notes), methodName });
  }
  notes.unshift(`${n} tasks`);
  return { tasks, input: input(rng, models.half_plus_two.features, notes) };
}

/** One gRPC request: { door: 'grpc', method (path), body (Buffer), what }. */
export function grpcCase(rng, models) {
  const kind = rng.weighted([[45, 'Predict'], [12, 'Classify'], [12, 'Regress'], [10, 'MultiInference'], [10, 'GetModelMetadata'], [11, 'GetModelStatus']]);
  const notes = [];
  let message;
  switch (kind) {
    case 'Predict': message = predictRequest(rng, models, notes); break;
    case 'Classify': message = inferenceRequest(rng, models, 'classify', notes); break;
    case 'Regress': message = inferenceRequest(rng, models, 'regress', notes); break;
    case 'MultiInference': message = multiInference(rng, models, notes); break;
    case 'GetModelMetadata': {
      const modelName = rng.pick(Object.keys(models));
      message = { modelSpec: modelSpec(rng, models, modelName, undefined, notes), metadataField: rng.chance(0.85) ? ['signature_def'] : [rng.pick(['', 'x', '__proto__', 'signature_def'])] };
      notes.unshift(modelName);
      break;
    }
    default: {
      const modelName = rng.pick(Object.keys(models));
      message = { modelSpec: modelSpec(rng, models, modelName, undefined, notes) };
      notes.unshift(modelName);
    }
  }
  let body = Buffer.from(TYPES[kind].encode(message).finish());
  if (rng.chance(0.2)) {
    const [mutated, how] = mutateBytes(rng, body);
    body = mutated;
    notes.push(how);
  }
  return { door: 'grpc', method: GRPC_METHODS[kind][0], body, what: `${kind} ${notes.join('; ')}` };
}

/** The known-good Predict: half_plus_two x=[1,2,5] -> y=[2.5,3,4.5]. */
export function goodGrpcPredict() {
  const message = { modelSpec: { name: 'half_plus_two' }, inputs: mapOf([['x', { dtype: 1, tensorShape: { dim: [{ size: 3 }, { size: 1 }] }, floatVal: [1, 2, 5] }]]) };
  return { door: 'grpc', method: GRPC_METHODS.Predict[0], body: Buffer.from(TYPES.Predict.encode(message).finish()), what: 'known-good Predict' };
}

/** The y values of a PredictResponse, for the known-good check. */
export function predictOutputs(bytes) {
  const response = servingType('tensorflow.serving.PredictResponse').decode(bytes);
  const y = response.outputs?.y;
  if (!y) return undefined;
  if (y.floatVal?.length) return [...y.floatVal];
  if (y.tensorContent?.length) return [...new Float32Array(new Uint8Array(y.tensorContent).slice().buffer)];
  return [];
}
