"""Calls a TF Serving compatible server the way TF Serving's users do, with
the tensorflow-serving-api package and tf.make_tensor_proto, and prints what
came back as one JSON object (the node:test suite checks it).

usage: tf_serving_client.py HOST:PORT HALF_PLUS_TWO_NAME CNN_NAME CNN_REFERENCE_JSON
(a name of "-" skips that model)
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import (  # noqa: E402
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)


def example(x):
    return tf.train.Example(features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))}))


def error_of(call):
    try:
        call()
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details()}
    return None


def half_plus_two(channel, name):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    out = {}

    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = "serving_default"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([[1.0], [2.0], [5.0]], dtype=tf.float32))
    response = stub.Predict(request, 10.0)
    out["predict"] = {
        "y": tf.make_ndarray(response.outputs["y"]).tolist(),
        "float_val": list(response.outputs["y"].float_val),
        "version": response.model_spec.version.value,
        "signature_name": response.model_spec.signature_name,
    }

    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = "classify_x_to_y"
    request.input.example_list.examples.extend([example(2.0)])
    response = stub.Classify(request, 10.0)
    out["classify"] = [[[c.label, c.score] for c in r.classes] for r in response.result.classifications]

    request = regression_pb2.RegressionRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = "regress_x_to_y"
    request.input.example_list.examples.extend([example(2.0), example(4.0)])
    response = stub.Regress(request, 10.0)
    out["regress"] = [r.value for r in response.result.regressions]
    out["regress_version"] = response.model_spec.version.value

    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = name
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, 10.0)
    signature_def_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_def_map)
    out["metadata"] = {
        "version": response.model_spec.version.value,
        "type_url": response.metadata["signature_def"].type_url,
        "signatures": sorted(signature_def_map.signature_def.keys()),
        "serving_default_x": signature_def_map.signature_def["serving_default"].inputs["x"].name,
    }

    model_stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    response = model_stub.GetModelStatus(request, 10.0)
    out["status"] = [
        {"version": s.version, "state": get_model_status_pb2.ModelVersionStatus.State.Name(s.state), "error_code": s.status.error_code, "error_message": s.status.error_message}
        for s in response.model_version_status
    ]

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "no_such_model"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([[1.0]], dtype=tf.float32))
    out["unknown_model"] = error_of(lambda: stub.Predict(request, 10.0))
    return out


def cnn(channel, name, reference_file):
    # As in the reference article: 28x28 grayscale images in, "prediction" and "softmax" out.
    with open(reference_file) as f:
        images = np.array(json.load(f)["images"][:4], dtype=np.float32).reshape(-1, 28, 28)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = "serving_default"
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(images, shape=list(images.shape)))
    response = stub.Predict(request, 30.0)
    return {
        "prediction": tf.make_ndarray(response.outputs["prediction"]).tolist(),
        "softmax": tf.make_ndarray(response.outputs["softmax"]).tolist(),
        "version": response.model_spec.version.value,
    }


def main():
    target, half_plus_two_name, cnn_name, reference_file = sys.argv[1:5]
    out = {}
    with grpc.insecure_channel(target) as channel:
        if half_plus_two_name != "-":
            out["half_plus_two"] = half_plus_two(channel, half_plus_two_name)
        if cnn_name != "-":
            out["cnn"] = cnn(channel, cnn_name, reference_file)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
