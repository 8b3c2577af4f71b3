"""Calls a server over the Open Inference Protocol v2 with Triton's own
Python client (tritonclient.http and tritonclient.grpc) as its users write
it, and prints what came back as one JSON object (test/v2-tritonclient.test.ts
checks it against TF's outputs).

usage: triton_client.py HTTP_HOST:PORT GRPC_HOST:PORT HALF_PLUS_TWO CNN CNN_REFERENCE_JSON DTYPES
(a model name of "-" skips that model)
"""
import json
import queue
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def error_of(call):
    try:
        call()
    except InferenceServerException as e:
        return {"status": str(e.status()), "message": e.message()}
    return None


def listed(array):
    if array.dtype == object:
        return [[item.decode("latin-1") if isinstance(item, bytes) else item for item in row] for row in array.reshape(array.shape[0], -1).tolist()]
    if array.dtype == np.float16:
        return array.astype(np.float32).tolist()
    if array.dtype in (np.int64, np.uint64):
        # As decimal strings: JSON readers in JS would round past 2^53.
        return np.char.mod("%d", array).tolist()
    return array.tolist()


def infer(lib, client, model, feeds, outputs=None, binary=True, parameters=None):
    """feeds: [(name, datatype, numpy array)]; returns {output name: [shape, data]}."""
    inputs = []
    for name, datatype, array in feeds:
        tensor = lib.InferInput(name, list(array.shape), datatype)
        if lib is httpclient:
            tensor.set_data_from_numpy(array, binary_data=binary)
        else:
            tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    wanted = None
    if outputs is not None:
        wanted = [lib.InferRequestedOutput(name, binary_data=binary) if lib is httpclient else lib.InferRequestedOutput(name) for name in outputs]
    result = client.infer(model, inputs, outputs=wanted, parameters=parameters)
    response = result.get_response()
    names = [o["name"] for o in response["outputs"]] if isinstance(response, dict) else [o.name for o in response.outputs]
    out = {}
    for name in names:
        array = result.as_numpy(name)
        out[name] = [list(array.shape), listed(array)]
    version = response["model_version"] if isinstance(response, dict) else response.model_version
    return {"version": version, "outputs": out}


def meta(lib, client, hp):
    server = client.get_server_metadata() if lib is httpclient else client.get_server_metadata(as_json=True)
    model = client.get_model_metadata(hp) if lib is httpclient else client.get_model_metadata(hp, as_json=True)
    return {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(hp),
        "server": {"name": server["name"], "extensions": server.get("extensions", [])},
        "model": {k: model.get(k) for k in ("name", "versions", "platform", "inputs", "outputs")},
    }


def session(lib, url, hp, cnn, reference_file, dtypes):
    client = lib.InferenceServerClient(url=url)
    out = {}
    if hp != "-":
        out["meta"] = meta(lib, client, hp)
        x = np.array([[1.0], [2.0], [5.0]], dtype=np.float32)
        out["hp"] = infer(lib, client, hp, [("x", "FP32", x)], ["y"])
        out["hp_default_outputs"] = infer(lib, client, hp, [("x", "FP32", x)])
        if lib is httpclient:
            out["hp_json"] = infer(lib, client, hp, [("x", "FP32", x)], ["y"], binary=False)
        out["errors"] = {
            "unknown_model": error_of(lambda: infer(lib, client, "no_such_model", [("x", "FP32", x)])),
            "wrong_datatype": error_of(lambda: infer(lib, client, hp, [("x", "FP64", x.astype(np.float64))])),
            "wrong_shape": error_of(lambda: infer(lib, client, hp, [("x", "FP32", x.reshape(3))])),
            "unknown_output": error_of(lambda: infer(lib, client, hp, [("x", "FP32", x)], ["nope"])),
        }
    if cnn != "-":
        with open(reference_file) as f:
            images = np.array(json.load(f)["images"][:4], dtype=np.float32).reshape(-1, 28, 28)
        out["cnn"] = infer(lib, client, cnn, [("image", "FP32", images)], ["prediction", "softmax"])
        if lib is httpclient:
            out["cnn_json"] = infer(lib, client, cnn, [("image", "FP32", images)], ["prediction", "softmax"], binary=False)
    if dtypes != "-":
        big = np.array([[2**53 + 1, -5, 7], [-(2**62), 0, 2**40]], dtype=np.int64)
        out["int64"] = infer(lib, client, dtypes, [("x", "INT64", big)], ["y", "doubled"], parameters={"signature_name": "int64"})
        words = np.array([[b"abc", b"Hello", b""], [b"tf serve", b"\xff\x00z", b"MiXeD"]], dtype=np.object_)
        out["bytes"] = infer(lib, client, dtypes, [("x", "BYTES", words)], ["y", "upper", "length"], parameters={"signature_name": "string"})
        if lib is httpclient:
            text = np.array([["abc", "Hello", ""], ["tf serve", "é", "MiXeD"]], dtype=np.object_)
            out["bytes_json"] = infer(lib, client, dtypes, [("x", "BYTES", text)], ["y", "upper", "length"], binary=False, parameters={"signature_name": "string"})
        half = np.array([[0.5, -2.0, 1000.5]], dtype=np.float16)
        out["fp16"] = infer(lib, client, dtypes, [("x", "FP16", half)], ["doubled"], parameters={"signature_name": "float16"})
        flags = np.array([[True, False, True]], dtype=np.bool_)
        out["bool"] = infer(lib, client, dtypes, [("x", "BOOL", flags)], ["not"], parameters={"signature_name": "bool"})
    if lib is grpcclient and hp != "-":
        out["stream"] = stream(client, hp)
    client.close()
    return out


def stream(client, hp):
    """Three requests and a bad one on one ModelStreamInfer stream: the answers, in order."""
    answers = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    for i, value in enumerate([1.0, 2.0, 3.0, None]):
        x = np.array([[value]], dtype=np.float32) if value is not None else np.array([[1.0]], dtype=np.float64)
        tensor = grpcclient.InferInput("x", list(x.shape), "FP32" if value is not None else "FP64")
        tensor.set_data_from_numpy(x)
        client.async_stream_infer(hp, [tensor], request_id=str(i))
    got = []
    for _ in range(4):
        result, error = answers.get(timeout=30)
        if error is not None:
            got.append({"error": error.message()})
        else:
            got.append({"id": result.get_response().id, "y": result.as_numpy("y").tolist()})
    client.stop_stream()
    return got


def main():
    http_url, grpc_url, hp, cnn, reference_file, dtypes = sys.argv[1:7]
    out = {
        "http": session(httpclient, http_url, hp, cnn, reference_file, dtypes),
        "grpc": session(grpcclient, grpc_url, hp, cnn, reference_file, dtypes),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
