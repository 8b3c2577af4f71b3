// protobufjs types for TF Serving's APIs and configs, built from the .proto
// subsets in proto/ (written for tfserve; wire numbers are TF Serving's).
import path from 'node:path';

import protobuf from 'protobufjs';

const protoRoot = path.resolve(__dirname, '..', '..', '..', 'proto');

const FILES = [
  'tensorflow_serving/apis/prediction_service.proto',
  'tensorflow_serving/apis/model_service.proto',
  'tensorflow_serving/apis/prediction_log.proto',
  'tensorflow_serving/config/model_server_config.proto',
  'tensorflow_serving/config/monitoring_config.proto',
  'tensorflow_serving/servables/tensorflow/session_bundle_config.proto',
  'grpc/health/v1/health.proto',
];

let root: protobuf.Root | undefined;

/** The root holding every serving message and service. */
export function servingRoot(): protobuf.Root {
  if (root) return root;
  const loaded = new protobuf.Root();
  // google/protobuf/*.proto resolve to protobufjs's bundled definitions.
  loaded.resolvePath = (_origin, target) => path.join(protoRoot, target);
  loaded.loadSync(FILES);
  loaded.resolveAll();
  root = loaded;
  return root;
}

export function servingType(name: string): protobuf.Type {
  return servingRoot().lookupType(name);
}

export function servingEnum(name: string): protobuf.Enum {
  return servingRoot().lookupEnum(name);
}
