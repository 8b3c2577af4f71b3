// protobufjs types built from the project's own .proto subsets in proto/.
import path from 'node:path';

import protobuf from 'protobufjs';

const protoRoot = path.resolve(__dirname, '..', '..', 'proto');

let root: protobuf.Root | undefined;

function loadRoot(): protobuf.Root {
  if (root) return root;
  const loaded = new protobuf.Root();
  loaded.resolvePath = (_origin, target) => path.join(protoRoot, target);
  loaded.loadSync(['tensorflow/core/protobuf/meta_graph.proto', 'tensorflow/core/protobuf/config.proto']);
  loaded.resolveAll();
  root = loaded;
  return root;
}

export function protoType(name: string): protobuf.Type {
  return loadRoot().lookupType(name);
}
