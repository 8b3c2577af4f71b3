// TF Serving's inference APIs over a ModelManager, protocol-neutral: gRPC
// and REST decode their requests into these shapes and encode the answers.
// Each call leases the servable it runs on and releases it once the answer is
// built, so a version being unloaded finishes its requests first.
import { TfServeError, invalidArgument } from '../engine/errors';
import { DEFAULT_SIGNATURE } from '../engine/model';
import type { Servable } from '../engine/servable';
import type { Signature } from '../engine/signatures';
import { type AnyTensor, type PackedStrings, type TensorInput, packedCount } from '../engine/tensor';
import { type Example, type SerializedExamples, encodeExample, isSerializedExamples, withContext } from './example';
import type { Lease, ModelManager, VersionStatus } from './model-manager';
import { decodeTensorProto } from './tensor-proto';

export interface ModelSpecInput {
  name: string;
  version?: number;
  versionLabel?: string;
  signatureName?: string;
}

export interface ResolvedSpec {
  name: string;
  version: number;
  signatureName: string;
}

export interface PredictRequest {
  modelSpec: ModelSpecInput;
  inputs: Record<string, TensorInput>;
  outputFilter?: string[];
  signal?: AbortSignal;
}

export interface PredictResult {
  modelSpec: ResolvedSpec;
  outputs: Record<string, AnyTensor>;
}

/** Examples as objects (REST's JSON), or serialized already (gRPC's Input, fed as they are). */
export type ExampleInput = Example[] | SerializedExamples;

export interface ExamplesRequest {
  modelSpec: ModelSpecInput;
  examples: ExampleInput;
  context?: Example;
  /** Answers CANCELLED at once when it aborts; a run that has not started never does. */
  signal?: AbortSignal;
}

export type Classification = Array<{ label: string; score: number }>;

export interface ClassifyResult {
  modelSpec: ResolvedSpec;
  classifications: Classification[];
}

export interface RegressResult {
  modelSpec: ResolvedSpec;
  regressions: number[];
}

export interface MultiInferenceRequest {
  tasks: Array<{ modelSpec: ModelSpecInput; methodName: string }>;
  examples: ExampleInput;
  context?: Example;
  /** As ExamplesRequest's. */
  signal?: AbortSignal;
}

export interface MultiInferenceResult {
  results: Array<{ modelSpec: ResolvedSpec; classifications?: Classification[]; regressions?: number[] }>;
}

const PREDICT_METHOD = 'tensorflow/serving/predict';
export const CLASSIFY_METHOD = 'tensorflow/serving/classify';
export const REGRESS_METHOD = 'tensorflow/serving/regress';

/** Signature tensor keys TF Serving's classify/regress signatures use. */
const EXAMPLES_INPUT = 'inputs';
const CLASSES_OUTPUT = 'classes';
const SCORES_OUTPUT = 'scores';
const REGRESS_OUTPUT = 'outputs';

/** The servable a call runs on, with the name and version it is served as. */
export interface Target {
  servable: Servable;
  name: string;
  version: number;
  /**
   * TF Serving's --enable_signature_method_name_check: hold Predict, Classify,
   * Regress and MultiInference tasks to signatures of their method_name.
   * Off (TF Serving's default), a signature serves any API its inputs and
   * outputs fit.
   */
  methodNameCheck?: boolean;
}

function checkSpec(spec: ModelSpecInput | undefined): ModelSpecInput {
  if (!spec || typeof spec.name !== 'string' || spec.name === '') throw invalidArgument('model_spec.name is missing: name the model to run');
  return spec;
}

/** Runs `run` on the version `spec` names, leased for its duration (the spec's name checked first). */
export function onTarget<T>(manager: ModelManager, spec: ModelSpecInput, run: (target: Target) => Promise<T>): Promise<T> {
  return withLease(manager, checkSpec(spec), run);
}

/** The version `spec` names, leased (its name checked first): the caller release()s it. */
export function leaseTarget(manager: ModelManager, spec: ModelSpecInput): Lease {
  const checked = checkSpec(spec);
  return manager.acquire({ name: checked.name, version: checked.version, versionLabel: checked.versionLabel });
}

async function withLease<T>(manager: ModelManager, spec: ModelSpecInput, run: (target: Target) => Promise<T>): Promise<T> {
  const lease = leaseTarget(manager, spec);
  try {
    return await run(lease);
  } finally {
    lease.release();
  }
}

function signatureOf(target: Target, signatureName: string | undefined): Signature {
  const key = signatureName || DEFAULT_SIGNATURE;
  // Own keys only: '__proto__' or 'constructor' name no signature.
  const signature = Object.hasOwn(target.servable.signatures, key) ? target.servable.signatures[key] : undefined;
  if (!signature) {
    const known = Object.keys(target.servable.signatures);
    throw new TfServeError(
      'FAILED_PRECONDITION',
      `Serving signature key "${key}" not found in model '${target.name}' version ${target.version} (signatures: ${known.join(', ') || 'none'})`,
    );
  }
  return signature;
}

function resolved(target: Target, signatureName: string): ResolvedSpec {
  return { name: target.name, version: target.version, signatureName };
}

/**
 * The request's inputs plus, for each input it leaves out that the
 * SignatureDef has a default for, that default (decoded afresh each time:
 * the engine may transfer input buffers away). TF Serving's predict_util
 * does the same (tensorflow/cc/saved_model/util.cc, GetInputValues); inputs
 * missing without a default are left for the engine to report.
 */
function withDefaults(signature: Signature, inputs: Record<string, TensorInput>): Record<string, TensorInput> {
  const defaults = signature.defaults;
  if (!defaults) return inputs;
  let filled: Record<string, TensorInput> | null = null;
  for (const alias of Object.keys(signature.inputs)) {
    if (Object.hasOwn(inputs, alias) || !Object.hasOwn(defaults, alias)) continue;
    filled ??= Object.assign(Object.create(null) as Record<string, TensorInput>, inputs);
    filled[alias] = decodeTensorProto(defaults[alias]!, `the default of input '${alias}' of signature '${signature.name}'`);
  }
  return filled ?? inputs;
}

/** Predict on a given servable (warmup replays use this directly). */
export async function predictOn(
  target: Target,
  request: Omit<PredictRequest, 'modelSpec'> & { signatureName?: string; /** Hold shapes to the signature's known dims (the v2 protocol does); default false. */ validateShapes?: boolean },
): Promise<PredictResult> {
  const signature = signatureOf(target, request.signatureName);
  if (target.methodNameCheck && ![PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD].includes(signature.methodName)) {
    throw invalidArgument(
      `Expected prediction signature method_name to be one of {${PREDICT_METHOD}, ${CLASSIFY_METHOD}, ${REGRESS_METHOD}}. Was: ${signature.methodName} (--enable_signature_method_name_check)`,
    );
  }
  // No inputs is a request like any other: a signature that takes none (a
  // stateful model's get_counter) runs; one that takes some reports them missing.
  const aliases = Object.keys(request.inputs);
  // Aliases are checked here against the signature's own keys, whatever the
  // engine does with them: '__proto__' or 'toString' name no input or output.
  for (const alias of aliases) {
    if (!Object.hasOwn(signature.inputs, alias)) {
      throw invalidArgument(`unknown input '${alias}' for signature '${signature.name}' (its inputs: ${Object.keys(signature.inputs).join(', ')})`);
    }
  }
  const seen = new Set<string>();
  for (const alias of request.outputFilter ?? []) {
    if (!Object.hasOwn(signature.outputs, alias)) {
      throw invalidArgument(`unknown output '${alias}' for signature '${signature.name}' (its outputs: ${Object.keys(signature.outputs).join(', ')})`);
    }
    if (seen.has(alias)) throw invalidArgument(`duplicate output tensor alias: ${alias}`);
    seen.add(alias);
  }
  // Like TF Serving, leave shapes to TF by default: e.g. x = [2.0] into a [-1,1] signature.
  // An aborted call is answered at once; if its run had not started, it never does.
  const outputs = await target.servable.predict(withDefaults(signature, request.inputs), {
    signature: signature.name,
    outputs: request.outputFilter,
    validateShapes: request.validateShapes ?? false,
    signal: request.signal,
  });
  return { modelSpec: resolved(target, signature.name), outputs };
}

export function predict(manager: ModelManager, request: PredictRequest): Promise<PredictResult> {
  const spec = checkSpec(request.modelSpec);
  return withLease(manager, spec, (target) => predictOn(target, { ...request, signatureName: spec.signatureName }));
}

/** The DT_STRING [n] tensor of serialized tf.Examples a classify/regress signature reads. */
interface ExamplesFeed {
  dtype: 'string';
  shape: [number];
  data: Uint8Array[] | PackedStrings;
}

/**
 * The examples as an ExamplesFeed, built on first call: the signature checks
 * before it report their errors first, and the tasks of a MultiInference share it.
 */
function examplesFeed(examples: ExampleInput, context: Example | undefined): () => ExamplesFeed {
  let feed: ExamplesFeed | null = null;
  return () => {
    if (feed) return feed;
    if (isSerializedExamples(examples)) {
      const count = packedCount(examples.serialized);
      if (count === 0) throw invalidArgument('Input is empty: the request has no examples');
      feed = { dtype: 'string', shape: [count], data: examples.serialized };
      return feed;
    }
    if (!Array.isArray(examples) || examples.length === 0) throw invalidArgument('Input is empty: the request has no examples');
    feed = { dtype: 'string', shape: [examples.length], data: examples.map((example) => encodeExample(withContext(example, context))) };
    return feed;
  };
}

/**
 * The single DT_STRING input a signature reads serialized examples from: its
 * one input, keyed 'inputs', as TF Serving's classifier and regressor require
 * (of any method_name unless the check is on), or, tfserve's extension, the
 * one DT_STRING input of a predict signature.
 */
function examplesInput(target: Target, signature: Signature, method: string): string {
  const api = method === CLASSIFY_METHOD ? 'classification' : 'regression';
  if (target.methodNameCheck && signature.methodName !== method) {
    throw invalidArgument(`Expected ${api} signature method_name to be ${method}. Was: ${signature.methodName} (--enable_signature_method_name_check)`);
  }
  const keys = Object.keys(signature.inputs);
  if (keys.length === 1 && Object.hasOwn(signature.inputs, EXAMPLES_INPUT)) {
    const spec = signature.inputs[EXAMPLES_INPUT]!;
    if (spec.dtype !== 'string') {
      throw invalidArgument(`input '${EXAMPLES_INPUT}' of signature '${signature.name}' is ${spec.tfDtype}, not DT_STRING serialized tf.Examples: call Predict on it instead`);
    }
    return EXAMPLES_INPUT;
  }
  // A predict signature that parses serialized examples from its one string input.
  if (signature.methodName === PREDICT_METHOD && keys.length === 1 && signature.inputs[keys[0]!]!.dtype === 'string') return keys[0]!;
  throw invalidArgument(
    `signature '${signature.name}' (method_name '${signature.methodName}') cannot serve ${method === CLASSIFY_METHOD ? 'Classify' : 'Regress'}: it needs exactly one input, '${EXAMPLES_INPUT}', of serialized tf.Examples (it has ${keys.join(', ') || 'none'})`,
  );
}

function rowsOf(tensor: AnyTensor, alias: string, batch: number, signatureName: string): number {
  if (tensor.shape.length !== 2 || tensor.shape[0] !== batch) {
    throw invalidArgument(
      `output '${alias}' of signature '${signatureName}' has shape [${tensor.shape.join(',')}], expected [batch_size num_classes] with batch_size ${batch}`,
    );
  }
  return tensor.shape[1]!;
}

type ExamplesCall = Omit<ExamplesRequest, 'modelSpec'> & { signatureName?: string };

export function classifyOn(target: Target, request: ExamplesCall): Promise<ClassifyResult> {
  return runClassify(target, request.signatureName, examplesFeed(request.examples, request.context), request.signal);
}

async function runClassify(target: Target, signatureName: string | undefined, examples: () => ExamplesFeed, signal: AbortSignal | undefined): Promise<ClassifyResult> {
  const signature = signatureOf(target, signatureName);
  const input = examplesInput(target, signature, CLASSIFY_METHOD);
  const classesSpec = signature.outputs[CLASSES_OUTPUT];
  const scoresSpec = signature.outputs[SCORES_OUTPUT];
  if (!classesSpec && !scoresSpec) {
    throw invalidArgument(`classify signature '${signature.name}' has neither a '${CLASSES_OUTPUT}' nor a '${SCORES_OUTPUT}' output`);
  }
  if (classesSpec && classesSpec.dtype !== 'string') throw invalidArgument(`output '${CLASSES_OUTPUT}' of signature '${signature.name}' must be DT_STRING, is ${classesSpec.tfDtype}`);
  if (scoresSpec && scoresSpec.dtype !== 'float32') throw invalidArgument(`output '${SCORES_OUTPUT}' of signature '${signature.name}' must be DT_FLOAT, is ${scoresSpec.tfDtype}`);
  const feed = examples();
  const wanted = [classesSpec ? CLASSES_OUTPUT : null, scoresSpec ? SCORES_OUTPUT : null].filter((k): k is string => k !== null);
  const outputs = await target.servable.predict({ [input]: feed }, { signature: signature.name, outputs: wanted, signal });
  const batch = feed.shape[0];
  const classes = outputs[CLASSES_OUTPUT];
  const scores = outputs[SCORES_OUTPUT];
  const perExample = classes ? rowsOf(classes, CLASSES_OUTPUT, batch, signature.name) : rowsOf(scores!, SCORES_OUTPUT, batch, signature.name);
  if (classes && scores && rowsOf(scores, SCORES_OUTPUT, batch, signature.name) !== perExample) {
    throw invalidArgument(`outputs '${CLASSES_OUTPUT}' [${classes.shape.join(',')}] and '${SCORES_OUTPUT}' [${scores.shape.join(',')}] of signature '${signature.name}' differ in shape`);
  }
  const classifications: Classification[] = [];
  for (let i = 0; i < batch; i++) {
    const row: Classification = [];
    for (let j = 0; j < perExample; j++) {
      const k = i * perExample + j;
      row.push({
        label: classes ? Buffer.from((classes.data as Uint8Array[])[k]!).toString('utf8') : '',
        score: scores ? (scores.data as Float32Array)[k]! : 0,
      });
    }
    classifications.push(row);
  }
  return { modelSpec: resolved(target, signature.name), classifications };
}

export function regressOn(target: Target, request: ExamplesCall): Promise<RegressResult> {
  return runRegress(target, request.signatureName, examplesFeed(request.examples, request.context), request.signal);
}

async function runRegress(target: Target, signatureName: string | undefined, examples: () => ExamplesFeed, signal: AbortSignal | undefined): Promise<RegressResult> {
  const signature = signatureOf(target, signatureName);
  const input = examplesInput(target, signature, REGRESS_METHOD);
  const spec = signature.outputs[REGRESS_OUTPUT];
  if (!spec) throw invalidArgument(`regress signature '${signature.name}' has no '${REGRESS_OUTPUT}' output (its outputs: ${Object.keys(signature.outputs).join(', ')})`);
  if (spec.dtype !== 'float32') throw invalidArgument(`output '${REGRESS_OUTPUT}' of signature '${signature.name}' must be DT_FLOAT, is ${spec.tfDtype}`);
  const feed = examples();
  const outputs = await target.servable.predict({ [input]: feed }, { signature: signature.name, outputs: [REGRESS_OUTPUT], signal });
  const tensor = outputs[REGRESS_OUTPUT]!;
  const batch = feed.shape[0];
  const fits = (tensor.shape.length === 1 && tensor.shape[0] === batch) || (tensor.shape.length === 2 && tensor.shape[0] === batch && tensor.shape[1] === 1);
  if (!fits) {
    throw invalidArgument(
      `output '${REGRESS_OUTPUT}' of signature '${signature.name}' has shape [${tensor.shape.join(',')}], expected [batch_size] or [batch_size, 1] with batch_size ${batch}`,
    );
  }
  return { modelSpec: resolved(target, signature.name), regressions: Array.from(tensor.data as Float32Array) };
}

export function classify(manager: ModelManager, request: ExamplesRequest): Promise<ClassifyResult> {
  const spec = checkSpec(request.modelSpec);
  return withLease(manager, spec, (target) => classifyOn(target, { ...request, signatureName: spec.signatureName }));
}

export function regress(manager: ModelManager, request: ExamplesRequest): Promise<RegressResult> {
  const spec = checkSpec(request.modelSpec);
  return withLease(manager, spec, (target) => regressOn(target, { ...request, signatureName: spec.signatureName }));
}

function tasksOf(request: MultiInferenceRequest): MultiInferenceRequest['tasks'] {
  if (!Array.isArray(request.tasks) || request.tasks.length === 0) throw invalidArgument('MultiInferenceRequest has no tasks');
  return request.tasks;
}

/** MultiInference on a given servable (warmup replays use this directly). */
export function multiInferenceOn(target: Target, request: MultiInferenceRequest): Promise<MultiInferenceResult> {
  return runTasks(target, tasksOf(request), request);
}

async function runTasks(target: Target, tasks: MultiInferenceRequest['tasks'], request: MultiInferenceRequest): Promise<MultiInferenceResult> {
  const seen = new Set<string>();
  for (const task of tasks) {
    if (task.modelSpec?.name !== target.name) {
      throw invalidArgument('All ModelSpecs in a MultiInferenceRequest must access the same model name');
    }
    const signature = task.modelSpec.signatureName || DEFAULT_SIGNATURE;
    if (seen.has(signature)) throw invalidArgument(`Duplicate evaluation of signature: ${signature}`);
    seen.add(signature);
    if (task.methodName !== CLASSIFY_METHOD && task.methodName !== REGRESS_METHOD) {
      throw invalidArgument(`Unsupported signature method_name: ${task.methodName} (MultiInference runs ${CLASSIFY_METHOD} and ${REGRESS_METHOD})`);
    }
  }
  const examples = examplesFeed(request.examples, request.context);
  const results: MultiInferenceResult['results'] = [];
  for (const task of tasks) {
    const signatureName = task.modelSpec.signatureName;
    if (task.methodName === CLASSIFY_METHOD) {
      const result = await runClassify(target, signatureName, examples, request.signal);
      results.push({ modelSpec: result.modelSpec, classifications: result.classifications });
    } else {
      const result = await runRegress(target, signatureName, examples, request.signal);
      results.push({ modelSpec: result.modelSpec, regressions: result.regressions });
    }
  }
  return { results };
}

export async function multiInference(manager: ModelManager, request: MultiInferenceRequest): Promise<MultiInferenceResult> {
  const tasks = tasksOf(request);
  const spec = checkSpec(tasks[0]!.modelSpec);
  return withLease(manager, spec, (target) => runTasks(target, tasks, request));
}

/** GetModelMetadata's signature_def: the version's serialized tensorflow.serving.SignatureDefMap. */
export function modelMetadata(manager: ModelManager, modelSpec: ModelSpecInput): { modelSpec: ResolvedSpec; signatureDefMap: Uint8Array } {
  const spec = checkSpec(modelSpec);
  const lease = manager.acquire({ name: spec.name, version: spec.version, versionLabel: spec.versionLabel });
  try {
    return { modelSpec: resolved(lease, spec.signatureName ?? ''), signatureDefMap: lease.servable.signatureDefMap };
  } finally {
    lease.release();
  }
}

/** GetModelStatus: every version of the model, or the one asked for by number or label. */
export function modelStatus(manager: ModelManager, modelSpec: ModelSpecInput): VersionStatus[] {
  const spec = checkSpec(modelSpec);
  return manager.status(spec.name, spec.version, spec.versionLabel);
}
