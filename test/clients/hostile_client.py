"""Sends TF Serving a PredictRequest with a rank-255 shape the way a client
using tensorflow-serving-api would build it (TensorProto with 255 dims), then
a good request, and prints both outcomes as one JSON object.

usage: hostile_client.py HOST:PORT HALF_PLUS_TWO_NAME
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import grpc  # noqa: E402
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2  # noqa: E402
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402


def tensor(dims, values):
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims])
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape, float_val=values)


def main():
    address, name = sys.argv[1], sys.argv[2]
    with grpc.insecure_channel(address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = name
        request.inputs["x"].CopyFrom(tensor([1] * 255, [1.0]))
        started = time.monotonic()
        try:
            stub.Predict(request, timeout=30)
            rank255 = {"code": "OK", "details": "", "ms": 0}
        except grpc.RpcError as e:
            rank255 = {"code": e.code().name, "details": e.details(), "ms": (time.monotonic() - started) * 1000}
        good = predict_pb2.PredictRequest()
        good.model_spec.name = name
        good.inputs["x"].CopyFrom(tensor([2, 1], [1.0, 2.0]))
        answer = stub.Predict(good, timeout=30)
        print(json.dumps({"rank255": rank255, "good": list(answer.outputs["y"].float_val)}))


if __name__ == "__main__":
    main()
