// protobufjs types for TF Serving's APIs and configs, built from the .proto
// subsets in proto/ (written for tfserve; wire numbers are TF Serving's).
import type protobuf from 'protobufjs';

import { lazyProtoRoot } from '../engine/proto';

const FILES = [
  'tensorflow_serving/apis/prediction_service.proto',
  'tensorflow_serving/apis/model_service.proto',
  'tensorflow_serving/apis/prediction_log.proto',
  'tensorflow_serving/config/model_server_config.proto',
  'tensorflow_serving/config/monitoring_config.proto',
  'tensorflow_serving/servables/tensorflow/session_bundle_config.proto',
  'grpc/health/v1/health.proto',
];

/** The root holding every serving message and service. */
const servingRoot = lazyProtoRoot(FILES);

export function servingType(name: string): protobuf.Type {
  return servingRoot().lookupType(name);
}

export function servingEnum(name: string): protobuf.Enum {
  return servingRoot().lookupEnum(name);
}
