// protobufjs roots built from the project's own .proto subsets in proto/.
import path from 'node:path';

import protobuf from 'protobufjs';

const PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'proto');

/** A root over the given proto/ files, loaded on first use and cached. */
export function lazyProtoRoot(files: readonly string[], options: protobuf.IParseOptions = {}): () => protobuf.Root {
  let root: protobuf.Root | undefined;
  return () => {
    if (!root) {
      const loaded = new protobuf.Root();
      // google/protobuf/*.proto resolve to protobufjs's bundled definitions.
      loaded.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
      loaded.loadSync([...files], options);
      loaded.resolveAll();
      root = loaded;
    }
    return root;
  };
}

const engineRoot = lazyProtoRoot(['tensorflow/core/protobuf/meta_graph.proto', 'tensorflow/core/protobuf/config.proto']);

export function protoType(name: string): protobuf.Type {
  return engineRoot().lookupType(name);
}
