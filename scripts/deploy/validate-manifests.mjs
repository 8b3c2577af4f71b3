// Validates Kubernetes and KServe manifests offline, without a cluster:
//   node scripts/deploy/validate-manifests.mjs [--json] [FILE_OR_DIR ...]   (default: deploy/)
//
// - Kubernetes' own kinds (Deployment, Service, HorizontalPodAutoscaler, ...)
//   are checked with the `kubernetes-models` package: JSON-schema validators
//   generated from Kubernetes' OpenAPI definitions (types, required fields,
//   enums, int-or-string). Those schemas do not refuse unknown fields (the API
//   server prunes them), so a misspelt optional field passes this step.
// - KServe's kinds (serving.kserve.io: ServingRuntime, InferenceService, ...)
//   are checked against the field tables of KServe's own generated API models,
//   read from the pinned `kserve` Python SDK wheel (scripts/deploy/kserve-models.py):
//   unknown fields are refused, required fields must be there, scalars must
//   have their type, and embedded Kubernetes types (V1Container, V1Probe, ...)
//   go to kubernetes-models' validator for that type.
// Exit code 0 when every document is valid, 1 otherwise; --json prints
// [{file, index, kind, name, errors}] for the tests.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { parseAllDocuments } from 'yaml';

import { cacheDir } from '../libtensorflow.mjs';
import { log } from '../log.mjs';
import { REPO_ROOT } from '../paths.mjs';
import { python } from '../wheel.mjs';

export const KSERVE_REQUIREMENT = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'deploy', 'requirements-kserve.txt'), 'utf8')
  .split('\n').map((line) => line.trim()).find((line) => line && !line.startsWith('#'));

/** KServe's model tables ({ClassName: {fields: {jsonKey: type}, required: [...]}}), from the pinned SDK wheel, cached. */
function kserveModels() {
  const dir = path.join(cacheDir(), 'deploy');
  const version = KSERVE_REQUIREMENT.split('==')[1];
  const extractor = path.join(REPO_ROOT, 'scripts', 'deploy', 'kserve-models.py');
  // Keyed by the extractor's own text too, so that a change to it is not hidden by the cache.
  const digest = createHash('sha256').update(fs.readFileSync(extractor)).digest('hex').slice(0, 12);
  const tables = path.join(dir, `kserve-${version}-models-${digest}.json`);
  if (fs.existsSync(tables)) return JSON.parse(fs.readFileSync(tables, 'utf8'));
  fs.mkdirSync(dir, { recursive: true });
  const findWheel = () => fs.readdirSync(dir).find((f) => f.startsWith(`kserve-${version}-`) && f.endsWith('.whl'));
  if (!findWheel()) {
    log(`downloading the ${KSERVE_REQUIREMENT} wheel (KServe's API models) with pip into ${dir} ...`);
    const pip = spawnSync(python(), ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-d', dir, KSERVE_REQUIREMENT], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (pip.status !== 0 || !findWheel()) throw new Error(`'${python()} -m pip download ${KSERVE_REQUIREMENT}' failed: KServe's manifests cannot be checked`);
  }
  const extract = spawnSync(python(), [extractor, path.join(dir, findWheel())], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (extract.status !== 0) throw new Error(`reading KServe's models from the wheel failed: ${extract.stderr}`);
  fs.writeFileSync(tables, extract.stdout);
  return JSON.parse(extract.stdout);
}

const require = createRequire(import.meta.url);

/**
 * A package's folder: the schema validators under its _schemas/ are files
 * the package does not export (kubernetes-models 4, the line that runs on
 * Node 20, exports only its API groups), so they are imported by path.
 */
function packageRoot(pkg) {
  let dir = path.dirname(require.resolve(pkg));
  while (!fs.existsSync(path.join(dir, '_schemas'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no _schemas folder in ${pkg}`);
    dir = parent;
  }
  return dir;
}

/** kubernetes-models' generated validator for a Kubernetes definition, e.g. IoK8sApiCoreV1Container. */
const k8sValidators = new Map();
async function k8sValidator(definition) {
  if (!k8sValidators.has(definition)) {
    let validate = null;
    try {
      // Object metadata and the like live in kubernetes-models' apimachinery package.
      const pkg = definition.startsWith('IoK8sApimachinery') ? '@kubernetes-models/apimachinery' : 'kubernetes-models';
      ({ validate } = await import(pathToFileURL(path.join(packageRoot(pkg), '_schemas', `${definition}.mjs`)).href));
    } catch {
      validate = null;
    }
    k8sValidators.set(definition, validate);
  }
  return k8sValidators.get(definition);
}

/** The Kubernetes definition behind the SDK's name for it (V1ObjectMeta, V1Container, ...). */
function k8sDefinitionOf(sdkType) {
  const kind = sdkType.slice(2);
  if (['ObjectMeta', 'ListMeta', 'Time'].includes(kind)) return `IoK8sApimachineryPkgApisMetaV1${kind}`;
  return `IoK8sApiCoreV1${kind}`;
}

async function validateK8sPart(definition, value, where, errors) {
  const validate = await k8sValidator(definition);
  if (!validate) {
    errors.push(`${where}: no Kubernetes schema for ${definition}`);
    return;
  }
  if (!validate(value)) {
    for (const e of validate.errors ?? []) errors.push(`${where}${e.instancePath} ${e.message ?? describeAjvError(e)}`);
  }
}

/** ajv's error in words (the raw generated validators leave `message` unset). */
function describeAjvError(e) {
  switch (e.keyword) {
    case 'type': return `must be ${e.params.type}`;
    case 'required': return `must have required property '${e.params.missingProperty}'`;
    case 'enum': return `must be one of ${e.params.allowedValues.join(', ')}`;
    case 'format': return `must match format "${e.params.format}"`;
    default: return `fails ${e.keyword} ${JSON.stringify(e.params)}`;
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks `value` against the SDK type `type` (as written in openapi_types), pushing messages onto errors. */
async function checkKserveValue(models, type, value, where, errors) {
  const list = /^list\[(.+)\]$/.exec(type);
  if (list) {
    if (!Array.isArray(value)) return void errors.push(`${where}: must be a list`);
    for (let i = 0; i < value.length; i++) await checkKserveValue(models, list[1], value[i], `${where}/${i}`, errors);
    return;
  }
  const dict = /^dict\(str, (.+)\)$/.exec(type);
  if (dict) {
    if (!isObject(value)) return void errors.push(`${where}: must be a map`);
    for (const [key, item] of Object.entries(value)) await checkKserveValue(models, dict[1], item, `${where}/${key}`, errors);
    return;
  }
  switch (type) {
    case 'str':
      if (typeof value !== 'string') errors.push(`${where}: must be a string, got ${JSON.stringify(value)}`);
      return;
    case 'int':
      if (!Number.isInteger(value)) errors.push(`${where}: must be an integer, got ${JSON.stringify(value)}`);
      return;
    case 'bool':
      if (typeof value !== 'boolean') errors.push(`${where}: must be true or false, got ${JSON.stringify(value)}`);
      return;
    case 'object':
      return;
    case 'ResourceQuantity':
      if (typeof value !== 'string' && typeof value !== 'number') errors.push(`${where}: must be a quantity`);
      return;
  }
  const model = models[type];
  if (model) {
    if (!isObject(value)) return void errors.push(`${where}: must be an object (${type})`);
    for (const key of model.required) if (!(key in value)) errors.push(`${where}: missing required field '${key}' (${type})`);
    for (const [key, item] of Object.entries(value)) {
      const fieldType = model.fields[key];
      if (fieldType === undefined) errors.push(`${where}/${key}: unknown field (${type} has ${Object.keys(model.fields).join(', ')})`);
      else await checkKserveValue(models, fieldType, item, `${where}/${key}`, errors);
    }
    return;
  }
  if (/^V1[A-Z]/.test(type)) return validateK8sPart(k8sDefinitionOf(type), value, where, errors);
  errors.push(`${where}: no schema for ${type} (not checked)`);
}

async function validateDocument(doc, models) {
  const errors = [];
  if (!isObject(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') return ['not a Kubernetes object (apiVersion and kind are needed)'];
  const [group, version] = doc.apiVersion.includes('/') ? doc.apiVersion.split('/') : ['', doc.apiVersion];
  if (group === 'serving.kserve.io') {
    // The SDK names its models after the API version: serving.kserve.io/v1beta1 InferenceService -> V1beta1InferenceService.
    const model = `V${version.slice(1)}${doc.kind}`;
    if (!models()[model]) return [`no KServe model for ${doc.apiVersion} ${doc.kind}`];
    await checkKserveValue(models(), model, doc, '', errors);
    return errors;
  }
  const modulePath = `kubernetes-models/${group ? `${group}/` : ''}${version}/${doc.kind}`;
  let Model;
  try {
    Model = (await import(modulePath))[doc.kind];
  } catch {
    return [`unknown apiVersion/kind ${doc.apiVersion} ${doc.kind} (no ${modulePath} in kubernetes-models)`];
  }
  try {
    new Model(doc).validate();
  } catch (error) {
    // kubernetes-models throws a ValidationError carrying ajv's errors (messages already in English).
    if (!Array.isArray(error.errors)) throw error;
    errors.push(...error.errors.map((e) => `${e.instancePath} ${e.message}`));
  }
  return errors;
}

function yamlFiles(target) {
  if (fs.statSync(target).isDirectory()) {
    return fs.readdirSync(target, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))
      .flatMap((entry) => (entry.isDirectory() || /\.ya?ml$/.test(entry.name) ? yamlFiles(path.join(target, entry.name)) : []));
  }
  return [target];
}

export async function validateManifests(targets) {
  let cached = null;
  const models = () => (cached ??= kserveModels());
  const results = [];
  for (const file of targets.flatMap(yamlFiles)) {
    const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
    for (let index = 0; index < docs.length; index++) {
      const doc = docs[index];
      if (doc.errors.length > 0) {
        results.push({ file, index, kind: '?', name: '?', errors: doc.errors.map((e) => `YAML: ${e.message}`) });
        continue;
      }
      const value = doc.toJS();
      if (value === null) continue;
      results.push({ file, index, kind: value.kind ?? '?', name: value.metadata?.name ?? '?', errors: await validateDocument(value, models) });
    }
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const targets = args.filter((a) => a !== '--json');
  const results = await validateManifests(targets.length > 0 ? targets : [path.join(REPO_ROOT, 'deploy')]);
  if (json) {
    process.stdout.write(`${JSON.stringify(results)}\n`);
  } else {
    for (const r of results) {
      const rel = path.relative(REPO_ROOT, r.file);
      if (r.errors.length === 0) console.log(`ok    ${rel} #${r.index} ${r.kind}/${r.name}`);
      else for (const e of r.errors) console.log(`FAIL  ${rel} #${r.index} ${r.kind}/${r.name}: ${e}`);
    }
    console.log(`${results.filter((r) => r.errors.length === 0).length} of ${results.length} manifests valid`);
  }
  process.exit(results.every((r) => r.errors.length === 0) ? 0 : 1);
}
