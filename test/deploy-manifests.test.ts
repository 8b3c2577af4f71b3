// deploy/ and the Dockerfile: every manifest validates against Kubernetes'
// schemas (kubernetes-models) and KServe's API models (the kserve SDK's), the
// validator refuses broken ones, the Dockerfile passes two real linters, and
// the pieces agree with tfserve and with each other: flags parse, ports match,
// probe and metrics paths are tfserve's and answer on a real server started
// with the Deployment's flags, and the termination grace covers the drain.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { DockerfileParser } from 'dockerfile-ast';
import { parseAllDocuments, stringify } from 'yaml';

import { type ServerFlags, parseCommandLine } from '../src/server/flags';
import { LIVENESS_PATH, READINESS_PATH } from '../src/server/rest';
import { startServer } from '../src/server/server';
import { parseMonitoringConfigFile } from '../src/serving/config';
import { freePort, needsTfServingData, repoRoot, tempDir, tfServingModel, waitUntil } from './helpers';
import { get } from './rest-helpers';

const deployDir = path.join(repoRoot, 'deploy');
const monitoringConfig = path.join(deployDir, 'docker', 'monitoring.config');
const entrypointScript = path.join(deployDir, 'docker', 'tfserve-entrypoint.sh');

interface Validated {
  file: string;
  index: number;
  kind: string;
  name: string;
  errors: string[];
}

// The validators are ES modules (kubernetes-models ships no CommonJS), so they run in a child.
function validate(targets: string[]): { status: number; results: Validated[] } {
  const run = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'deploy', 'validate-manifests.mjs'), '--json', ...targets], { encoding: 'utf8', timeout: 300_000 });
  assert.ok(run.stdout.trim(), `the validator printed nothing: ${run.stderr}`);
  return { status: run.status ?? -1, results: JSON.parse(run.stdout.trim().split('\n').pop()!) as Validated[] };
}

type Json = any;

function load(rel: string): Json[] {
  return parseAllDocuments(fs.readFileSync(path.join(deployDir, rel), 'utf8')).map((d) => d.toJS());
}

/** The flags the image's entrypoint puts before the container's args, with its environment filled in. */
function entrypointFlags(env: Record<string, string>): string[] {
  const text = fs.readFileSync(entrypointScript, 'utf8').replace(/\\\n/g, ' ');
  const exec = /^exec tfserve (.*)$/m.exec(text);
  assert.ok(exec, 'the entrypoint execs tfserve');
  return exec[1]!.split(/\s+/).filter((t) => t.startsWith('--')).map((t) => t.replace(/"?\$\{(\w+)\}"?/g, (_, name: string) => env[name] ?? ''));
}

function parseFlags(argv: string[]): ServerFlags {
  const parsed = parseCommandLine(argv);
  assert.equal(parsed.help, false);
  return (parsed as { flags: ServerFlags }).flags;
}

function flagValue(args: string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

test('every manifest in deploy/ validates against the Kubernetes and KServe schemas', () => {
  const { status, results } = validate([deployDir]);
  for (const r of results) assert.deepEqual(r.errors, [], `${path.relative(repoRoot, r.file)} #${r.index} ${r.kind}/${r.name}`);
  assert.equal(status, 0);
  const kinds = new Set(results.map((r) => r.kind));
  for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServingRuntime', 'InferenceService']) {
    assert.ok(kinds.has(kind), `deploy/ has a ${kind}`);
  }
});

test('the validator refuses broken manifests, naming the field', () => {
  const dir = tempDir('manifests');
  const [deployment] = load('kubernetes/deployment.yaml');
  deployment.spec.template.spec.containers[0].ports[0].containerPort = 'grpc';
  delete deployment.spec.selector;
  const [runtime] = load('kserve/servingruntime.yaml');
  runtime.spec.supportedModelFormat = runtime.spec.supportedModelFormats;
  runtime.spec.containers[0].readinessProbe.periodSeconds = 'often';
  const [isvc] = load('kserve/inferenceservice-v1.yaml');
  delete isvc.spec.predictor.model.modelFormat;
  isvc.spec.predictor.model.protocolVersion = 1;
  const [hpa] = load('kubernetes/hpa.yaml');
  hpa.apiVersion = 'autoscaling/v3';
  fs.writeFileSync(path.join(dir, 'broken.yaml'), [deployment, runtime, isvc, hpa].map((d) => stringify(d)).join('---\n'));
  const { status, results } = validate([dir]);
  assert.equal(status, 1);
  const errors = results.map((r) => r.errors.join('\n'));
  assert.match(errors[0]!, /containers\/0\/ports\/0\/containerPort must be integer/);
  assert.match(errors[0]!, /\/spec must have required property '?selector'?/);
  assert.match(errors[1]!, /\/spec\/supportedModelFormat: unknown field/);
  assert.match(errors[1]!, /readinessProbe\/periodSeconds must be integer/);
  assert.match(errors[2]!, /missing required field 'modelFormat'/);
  assert.match(errors[2]!, /protocolVersion: must be a string/);
  assert.match(errors[3]!, /unknown apiVersion\/kind autoscaling\/v3 HorizontalPodAutoscaler/);
});

test('the Dockerfile passes dockerfile-utils and hadolint, its entrypoint shellcheck', () => {
  const run = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'deploy', 'lint-dockerfile.mjs'), '--json'], { encoding: 'utf8', timeout: 300_000 });
  assert.ok(run.stdout.trim(), `the linter printed nothing: ${run.stderr}`);
  const result = JSON.parse(run.stdout.trim()) as { dockerfileUtils: unknown[]; hadolint: { version: string; findings: unknown[] }; shellcheck: { version: string; findings: unknown[] } };
  assert.deepEqual(result.dockerfileUtils, []);
  assert.deepEqual(result.hadolint.findings, []);
  assert.match(result.hadolint.version, /Haskell Dockerfile Linter \d/);
  // The entrypoint script, with shellcheck.
  assert.deepEqual(result.shellcheck.findings, []);
  assert.match(result.shellcheck.version, /^\d+\.\d+/);
  assert.equal(run.status, 0);
});

test('the Dockerfile agrees with the entrypoint, tfserve and the Deployment', () => {
  const instructions = DockerfileParser.parse(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')).getInstructions();
  const runtime = instructions.slice(instructions.map((i) => i.getKeyword()).lastIndexOf('FROM'));
  const of = (keyword: string) => runtime.filter((i) => i.getKeyword() === keyword);
  assert.match(of('FROM')[0]!.getArgumentsContent()!, /^node:\$\{NODE_VERSION\}-bookworm-slim$/);
  const flags = parseFlags([...entrypointFlags({ MODEL_NAME: 'm', MODEL_BASE_PATH: '/models' }), '--enable_batching']);
  assert.equal(flags.modelBasePath, '/models/m');
  assert.deepEqual(of('EXPOSE')[0]!.getArguments().map((a) => Number(a.getValue())), [flags.port, flags.restApiPort]);
  assert.deepEqual([flags.port, flags.restApiPort], [8500, 8501]);
  const healthcheck = of('HEALTHCHECK')[0]!.getArgumentsContent()!;
  assert.ok(healthcheck.includes(`http://127.0.0.1:${flags.restApiPort}${READINESS_PATH}`), healthcheck);
  const user = of('USER')[0]!.getArgumentsContent()!;
  assert.notEqual(user.split(':')[0], '0');
  const envNames = of('ENV').flatMap((i) => (i as unknown as { getProperties(): Array<{ getName(): string }> }).getProperties().map((p) => p.getName()));
  assert.ok(envNames.includes('MODEL_NAME') && envNames.includes('MODEL_BASE_PATH'));
  // The monitoring config the image ships is where the manifests point.
  const copies = of('COPY').map((i) => i.getArguments().map((a) => a.getValue()));
  const shipped = copies.find(([src]) => src === path.relative(repoRoot, monitoringConfig));
  assert.ok(shipped, 'the image ships deploy/docker/monitoring.config');
  const [deployment] = load('kubernetes/deployment.yaml');
  assert.equal(flagValue(deployment.spec.template.spec.containers[0].args, 'monitoring_config_file'), shipped![1]);
  const [runtimeManifest] = load('kserve/servingruntime.yaml');
  assert.equal(flagValue(runtimeManifest.spec.containers[0].args, 'monitoring_config_file'), shipped![1]);
  // The runtime stage's user matches the pods' securityContext.
  assert.equal(Number(user.split(':')[0]), deployment.spec.template.spec.securityContext.runAsUser);
});

test('Deployment, Service, HPA and PDB agree with tfserve\'s flags and with each other', () => {
  const [deployment] = load('kubernetes/deployment.yaml');
  const [service] = load('kubernetes/service.yaml');
  const [hpa] = load('kubernetes/hpa.yaml');
  const [pdb] = load('kubernetes/pdb.yaml');
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  const env = Object.fromEntries(container.env.map((e: Json) => [e.name, e.value]));
  const flags = parseFlags([...entrypointFlags(env), ...container.args]);
  const ports: Record<string, number> = Object.fromEntries(container.ports.map((p: Json) => [p.name, p.containerPort]));
  assert.deepEqual({ ...ports }, { grpc: flags.port, http: flags.restApiPort });
  // Probes: tfserve's liveness and readiness paths, on the REST port.
  assert.equal(container.livenessProbe.httpGet.path, LIVENESS_PATH);
  assert.equal(container.startupProbe.httpGet.path, LIVENESS_PATH);
  assert.equal(container.readinessProbe.httpGet.path, READINESS_PATH);
  for (const probe of [container.livenessProbe, container.startupProbe, container.readinessProbe]) assert.equal(ports[probe.httpGet.port], flags.restApiPort);
  // A liveness probe on /healthz during a long load needs the ports open early.
  assert.equal(flags.serveDuringLoad, true);
  // The kubelet's SIGKILL comes after preStop + the drain tfserve was given.
  const preStopSleep = Number(container.lifecycle.preStop.exec.command[1]);
  assert.ok(pod.spec.terminationGracePeriodSeconds > preStopSleep + flags.shutdownGraceSeconds,
    `terminationGracePeriodSeconds ${pod.spec.terminationGracePeriodSeconds} must exceed preStop ${preStopSleep} s + --shutdown_grace_seconds ${flags.shutdownGraceSeconds}`);
  // Prometheus scrapes tfserve's exposition: the REST port, the configured path.
  const monitoring = parseMonitoringConfigFile(monitoringConfig);
  assert.equal(monitoring.prometheus.enable, true);
  assert.equal(Number(pod.metadata.annotations['prometheus.io/port']), flags.restApiPort);
  assert.equal(pod.metadata.annotations['prometheus.io/path'], monitoring.prometheus.path);
  // Service, HPA and PDB find these pods.
  const labels = pod.metadata.labels;
  for (const [key, value] of Object.entries(service.spec.selector)) assert.equal(labels[key], value);
  for (const [key, value] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(labels[key], value);
  assert.deepEqual(deployment.spec.selector.matchLabels, pdb.spec.selector.matchLabels);
  assert.deepEqual(service.spec.ports.map((p: Json) => ports[p.targetPort]), service.spec.ports.map((p: Json) => p.port));
  assert.deepEqual([hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name], ['Deployment', deployment.metadata.name]);
  assert.ok(container.resources.requests.cpu, 'CPU utilization needs a CPU request');
  assert.ok(hpa.spec.minReplicas >= 2 && pdb.spec.maxUnavailable === 1, 'a disruption leaves a replica serving');
});

test('the KServe ServingRuntime takes TF Serving\'s flags, and the InferenceServices use it', () => {
  const [runtime] = load('kserve/servingruntime.yaml');
  const container = runtime.spec.containers[0];
  const args = container.args.map((a: string) => a.replace('{{.Name}}', 'half-plus-two'));
  const flags = parseFlags(args);
  // KServe's TF runtime's command line, as KServe passes it.
  assert.deepEqual([flags.port, flags.restApiPort, flags.modelBasePath, flags.modelName], [9000, 8080, '/mnt/models', 'half-plus-two']);
  assert.equal(container.readinessProbe.httpGet.path, READINESS_PATH);
  assert.equal(container.livenessProbe.httpGet.path, LIVENESS_PATH);
  assert.equal(container.readinessProbe.httpGet.port, flags.restApiPort);
  assert.equal(Number(runtime.spec.annotations['prometheus.kserve.io/port']), flags.restApiPort);
  assert.equal(runtime.spec.annotations['prometheus.kserve.io/path'], parseMonitoringConfigFile(monitoringConfig).prometheus.path);
  assert.ok(runtime.spec.supportedModelFormats.every((f: Json) => f.name === 'tensorflow'));
  assert.deepEqual([...runtime.spec.protocolVersions].sort(), ['grpc-v1', 'grpc-v2', 'v1', 'v2']);
  const services = [...load('kserve/inferenceservice-v1.yaml'), ...load('kserve/inferenceservice-v2.yaml')];
  assert.deepEqual(services.map((s) => s.spec.predictor.model.protocolVersion).sort(), ['grpc-v2', 'v1', 'v2']);
  for (const service of services) {
    const model = service.spec.predictor.model;
    assert.equal(model.runtime, runtime.metadata.name);
    assert.ok(runtime.spec.protocolVersions.includes(model.protocolVersion));
    for (const port of model.ports ?? []) assert.equal(port.containerPort, flags.port, 'gRPC InferenceServices expose tfserve\'s --port');
  }
});

test('a real tfserve started with the Deployment\'s flags answers its probes and the Prometheus scrape', { skip: needsTfServingData() }, async () => {
  const [deployment] = load('kubernetes/deployment.yaml');
  const container = deployment.spec.template.spec.containers[0];
  const models = tempDir('deploy-models');
  fs.cpSync(tfServingModel('saved_model_half_plus_two_cpu'), path.join(models, 'half_plus_two'), { recursive: true });
  const args = container.args.map((a: string) => (a.startsWith('--monitoring_config_file=') ? `--monitoring_config_file=${monitoringConfig}` : a));
  const env = Object.fromEntries(container.env.map((e: Json) => [e.name, e.value]));
  const flags = parseFlags([...entrypointFlags({ ...env, MODEL_BASE_PATH: models }), ...args]);
  const rest = await freePort();
  const server = await startServer({ ...flags, port: 0, restApiPort: rest, bindAddress: '127.0.0.1' }, { log: () => undefined });
  try {
    assert.equal((await get(rest, container.livenessProbe.httpGet.path)).status, 200);
    await waitUntil('readiness', async () => (await get(rest, container.readinessProbe.httpGet.path)).status === 200, 60_000, 100);
    const scrape = await get(rest, deployment.spec.template.metadata.annotations['prometheus.io/path']);
    assert.equal(scrape.status, 200);
    assert.match(scrape.text, /tfserve_loaded_model_versions\{model_name="half_plus_two"\} 1/);
  } finally {
    await server.shutdown(1000);
  }
});
