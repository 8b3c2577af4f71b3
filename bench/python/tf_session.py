"""TF's own Python session for `npm run bench` (contenders/tf-python.mjs).

Loads one SavedModel into a tf.compat.v1.Session with TF's default
ConfigProto (what a Python user gets), and answers JSON lines on stdin:

  {"cmd": "cell", "batch": B, "seconds": S, "warmup": W, "minCalls": N}
      -> calls sess.run (through make_callable) on B examples back to back
         for W s unmeasured, then S s measured; one caller.
  {"cmd": "outputs", "batch": B, "data": "<base64 float32>"}
      -> the signature's outputs for that input, as lists.
  {"cmd": "close"}

Every answer is one JSON line on stdout; an error is {"error": "..."}.

  python tf_session.py EXPORT_DIR INPUT_ALIAS EXAMPLE_SHAPE(28,28)
"""

import base64
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1
tf.get_logger().setLevel("ERROR")


def load(export_dir, alias):
    graph = tf.Graph()
    sess = v1.Session(graph=graph)
    with graph.as_default():
        sig = v1.saved_model.loader.load(sess, ["serve"], export_dir).signature_def["serving_default"]
    names = sorted(sig.outputs)
    feed = graph.get_tensor_by_name(sig.inputs[alias].name)
    fetches = [graph.get_tensor_by_name(sig.outputs[k].name) for k in names]
    return sess, names, sess.make_callable(fetches, [feed])


def summary(latencies_s):
    ordered = np.sort(np.asarray(latencies_s)) * 1e6
    pct = lambda p: float(np.percentile(ordered, p))  # noqa: E731 (linear, as bench/lib/stats.mjs)
    return {
        "mean": float(ordered.mean()), "p50": pct(50), "p90": pct(90), "p99": pct(99),
        "min": float(ordered[0]), "max": float(ordered[-1]),
    }


def cell(run, example_shape, batch, seconds, warmup, min_calls):
    x = np.random.default_rng(1).random((batch, *example_shape), dtype=np.float32)
    until = time.perf_counter() + warmup
    run(x)
    while time.perf_counter() < until:
        run(x)
    latencies = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    end = started + seconds
    while time.perf_counter() < end or len(latencies) < min_calls:
        t = time.perf_counter()
        run(x)
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {
        "cpuUsPerExample": cpu * 1e6 / (len(latencies) * batch),
        "calls": len(latencies),
        "seconds": elapsed,
        "examplesPerSecond": len(latencies) * batch / elapsed,
        "latencyUs": summary(latencies),
    }


def main():
    export_dir, alias, shape = sys.argv[1], sys.argv[2], tuple(int(d) for d in sys.argv[3].split(","))
    sess, names, run = load(export_dir, alias)
    print(json.dumps({"ready": True, "tensorflow": tf.__version__, "numpy": np.__version__}), flush=True)
    for line in sys.stdin:
        message = json.loads(line)
        try:
            if message["cmd"] == "close":
                break
            if message["cmd"] == "cell":
                answer = cell(run, shape, message["batch"], message["seconds"], message["warmup"], message["minCalls"])
            elif message["cmd"] == "outputs":
                data = np.frombuffer(base64.b64decode(message["data"]), np.float32).reshape((message["batch"], *shape))
                answer = {"outputs": {k: v.astype(np.float64).ravel().tolist() for k, v in zip(names, run(data))}}
            else:
                raise ValueError(f"unknown cmd {message['cmd']!r}")
        except Exception as error:  # reported to the bench, which carries on
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)
    sess.close()


if __name__ == "__main__":
    main()
