// `npm start` (tfserve --demo): serves the seed MNIST CNN made by
// scripts/make-fixtures.mjs and prints commands that query it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { ServerFlags } from './flags';

const DEMO_MODEL_NAME = 'gaofei_cnn';
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEMO_MODEL_DIR = path.join(REPO_ROOT, '.fixtures', DEMO_MODEL_NAME);

/** The flags with the demo model filled in (and 8501 for REST unless a port was given). */
export function demoFlags(flags: ServerFlags, given: ReadonlySet<keyof ServerFlags>): ServerFlags {
  if (!fs.existsSync(path.join(DEMO_MODEL_DIR, 'reference.json'))) {
    throw new Error(`the demo model ${DEMO_MODEL_DIR} is missing: run 'node scripts/make-fixtures.mjs ${DEMO_MODEL_NAME}' (npm start does)`);
  }
  return { ...flags, modelName: DEMO_MODEL_NAME, modelBasePath: DEMO_MODEL_DIR, restApiPort: given.has('restApiPort') ? flags.restApiPort : 8501 };
}

/** Writes a request with one held-out digit; returns the file and the digit's label. */
export function writeDemoRequest(): { file: string; label: number } {
  const reference = JSON.parse(fs.readFileSync(path.join(DEMO_MODEL_DIR, 'reference.json'), 'utf8')) as { images: number[][]; labels: number[] };
  const pixels = reference.images[0]!;
  const image = Array.from({ length: 28 }, (_, row) => pixels.slice(row * 28, row * 28 + 28));
  const file = path.join(os.tmpdir(), 'tfserve-demo-request.json');
  fs.writeFileSync(file, JSON.stringify({ instances: [image] }));
  return { file, label: reference.labels[0]! };
}

function pythonCommand(): string {
  const venvPython = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  return fs.existsSync(venvPython) ? path.relative(process.cwd(), venvPython) || venvPython : 'python3';
}

export function demoInstructions(grpcPort: number, restPort: number | null, request: { file: string; label: number }): string {
  const lines = [
    '',
    `Serving the demo model '${DEMO_MODEL_NAME}' (an MNIST CNN). ${request.file} holds a handwritten ${request.label}.`,
    '',
  ];
  if (restPort !== null) {
    lines.push(
      'REST:',
      `  curl -s -X POST http://localhost:${restPort}/v1/models/${DEMO_MODEL_NAME}:predict -d @${request.file}`,
      `  curl -s http://localhost:${restPort}/v1/models/${DEMO_MODEL_NAME}`,
      `  curl -s http://localhost:${restPort}/v1/models/${DEMO_MODEL_NAME}/metadata`,
      '',
    );
  }
  lines.push(
    'gRPC, with the tensorflow-serving-api Python client:',
    `  ${pythonCommand()} - <<'EOF'`,
    'import json, grpc, numpy as np, tensorflow as tf',
    'from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc',
    `image = np.array(json.load(open('${request.file}'))['instances'], np.float32)`,
    `stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel('localhost:${grpcPort}'))`,
    'request = predict_pb2.PredictRequest()',
    `request.model_spec.name = '${DEMO_MODEL_NAME}'`,
    "request.model_spec.signature_name = 'serving_default'",
    "request.inputs['image'].CopyFrom(tf.make_tensor_proto(image, shape=image.shape))",
    'result = stub.Predict(request, 10.0)',
    "print('prediction:', list(result.outputs['prediction'].int64_val), 'softmax:', [round(p, 3) for p in result.outputs['softmax'].float_val])",
    'EOF',
    '',
    'Ctrl-C stops the server.',
  );
  return lines.join('\n');
}
