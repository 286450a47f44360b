"""TF Serving: warmup records, request checks, REST bodies and a gRPC round trip."""

import json
import os
import shutil
from concurrent import futures

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
)

from garden.export import export_language_model
from garden.export.serving import (
    WARMUP_FILE,
    grpc_predict,
    predict_request,
    read_warmup_requests,
    rest_request,
    signature_inputs,
    write_version,
    write_warmup_requests,
)
from tests.export.test_language_model import EXAMPLES, WARMUP, small_generator


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    keras.utils.set_random_seed(11)
    generator, tokenizer, vocabulary = small_generator(
        units=6, num_layers=1, embedding_dim=4
    )
    root = tmp_path_factory.mktemp("exports")
    path = export_language_model(
        generator, tokenizer, vocabulary, str(root), "lm", " ", **WARMUP
    )
    return root, path


def test_warmup_records_are_prediction_logs_inside_the_version(export):
    root, path = export
    # Written before the rename: nothing but the version and its .keras file.
    assert sorted(os.listdir(root / "lm")) == ["1", "1.keras"]
    records = [
        prediction_log_pb2.PredictionLog.FromString(record)
        for record in tf.data.TFRecordDataset(
            os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
        ).as_numpy_iterator()
    ]
    assert [record.WhichOneof("log_type") for record in records] == ["predict_log"] * 2
    requests = [record.predict_log.request for record in records]
    assert [r.model_spec.name for r in requests] == ["lm", "lm"]
    assert [r.model_spec.signature_name for r in requests] == [
        "serving_default",
        "score",
    ]
    prompt = requests[0].inputs["prompt"]
    assert prompt.dtype == tf.string.as_datatype_enum
    assert [d.size for d in prompt.tensor_shape.dim] == [len(EXAMPLES)]
    assert requests[0].inputs["max_length"].dtype == tf.int32.as_datatype_enum
    assert requests[0].inputs["temperature"].dtype == tf.float32.as_datatype_enum
    assert not requests[0].inputs["temperature"].tensor_shape.dim
    assert tf.make_ndarray(requests[1].inputs["text"]).tolist() == [
        text.encode() for text in EXAMPLES
    ]


def test_signature_inputs_read_from_saved_model_pb(export):
    _, path = export
    specs = signature_inputs(path)
    assert sorted(specs) == ["score", "serving_default"]
    assert specs["serving_default"]["prompt"] == tf.TensorSpec(
        [None], tf.string, "prompt"
    )
    assert specs["serving_default"]["max_length"] == tf.TensorSpec(
        [], tf.int32, "max_length"
    )
    assert specs["score"]["text"].dtype == tf.string


@pytest.mark.parametrize(
    "requests, message",
    [
        ([("generate", {"text": ["a"]})], "signatures among"),
        ([("score", {"prompt": ["a"]})], r"expected the inputs \['text'\]"),
        ([("score", {"text": ["a"], "extra": 1})], "expected the inputs"),
        ([("score", {"text": [1, 2]})], "input 'text' .* expected string"),
        ([("score", {"text": "one text"})], r"expected string of shape \(None,\)"),
        ([("score", {"text": [["a"], ["b", "c"]]})], "input 'text'"),
        (
            [
                (
                    "serving_default",
                    {"prompt": ["a"], "max_length": 2**40, "temperature": 1.0},
                )
            ],
            "input 'max_length' .* expected int32",
        ),
        (
            [
                (
                    "serving_default",
                    {"prompt": ["a"], "max_length": 2.5, "temperature": 1.0},
                )
            ],
            "input 'max_length'",
        ),
        (
            [
                (
                    "serving_default",
                    {"prompt": ["a"], "max_length": 3, "temperature": [1.0]},
                )
            ],
            r"input 'temperature' .* shape \(\)",
        ),
        ([("score", "text")], "argument `inputs`"),
        ([], "argument `requests`"),
    ],
)
def test_bad_warmup_requests_fail_and_leave_no_version(
    export, tmp_path, requests, message
):
    _, path = export
    with pytest.raises(ValueError, match=message):
        write_warmup_requests(path, "lm", requests)

    def copy(directory):
        os.makedirs(directory)
        shutil.copy(os.path.join(path, "saved_model.pb"), directory)

    with pytest.raises(ValueError, match=message):
        write_version(str(tmp_path), "lm", copy, requests)
    # Neither a numbered version nor a staging directory is left behind.
    assert os.listdir(tmp_path / "lm") == []
    assert len(read_warmup_requests(path)) == 2  # the export's own file is intact


def test_read_warmup_requests_needs_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="tf_serving_warmup_requests"):
        read_warmup_requests(str(tmp_path))
    assert WARMUP_FILE == os.path.join("assets.extra", "tf_serving_warmup_requests")


def test_rest_request_is_tf_serving_columnar_json():
    body = rest_request(
        {
            "text": ["plain", "été 😀", b"caf\xc3\xa9", b"\xff\xfe"],
            "beam_width": np.int32(4),
            "temperature": np.float32(0.5),
            "matrix": np.arange(4, dtype=np.int64).reshape(2, 2),
        },
        signature_name="score",
    )
    assert json.loads(json.dumps(body)) == {
        "signature_name": "score",
        "inputs": {
            "text": ["plain", "été 😀", "café", {"b64": "//4="}],
            "beam_width": 4,
            "temperature": 0.5,
            "matrix": [[0, 1], [2, 3]],
        },
    }
    assert rest_request({"text": "one"})["signature_name"] == "serving_default"
    for inputs in ({}, ["text"], None):
        with pytest.raises(ValueError, match="argument `inputs`"):
            rest_request(inputs)


def test_predict_request_offline():
    request = predict_request(
        "translation",
        {"text": ["I am cold."], "beam_width": 4, "temperature": 0.5},
        version=3,
    )
    assert isinstance(request, predict_pb2.PredictRequest)
    assert request.model_spec.name == "translation"
    assert request.model_spec.signature_name == "serving_default"
    assert request.model_spec.version.value == 3
    # Python values convert as tf.constant does.
    assert request.inputs["beam_width"].dtype == tf.int32.as_datatype_enum
    assert request.inputs["temperature"].dtype == tf.float32.as_datatype_enum
    assert tf.make_ndarray(request.inputs["text"]).tolist() == [b"I am cold."]
    latest = predict_request("translation", {"text": ["a"]}, "score")
    assert not latest.model_spec.HasField("version")
    assert latest.model_spec.signature_name == "score"


class SavedModelServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """A stand-in for TF Serving's Predict: runs the SavedModel's signature."""

    def __init__(self, model_name, path):
        self.model_name = model_name
        self.model = tf.saved_model.load(path)

    def Predict(self, request, context):
        if request.model_spec.name != self.model_name:
            context.abort(grpc.StatusCode.NOT_FOUND, request.model_spec.name)
        signature = self.model.signatures[request.model_spec.signature_name]
        outputs = signature(
            **{
                name: tf.constant(tf.make_ndarray(proto))
                for name, proto in request.inputs.items()
            }
        )
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response


def test_grpc_predict_round_trip(export):
    _, path = export
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        SavedModelServicer("lm", path), server
    )
    port = server.add_insecure_port("localhost:0")
    server.start()
    try:
        target = f"localhost:{port}"
        scored = grpc_predict(target, "lm", {"text": EXAMPLES}, "score")
        generated = grpc_predict(
            target,
            "lm",
            {"prompt": EXAMPLES, "max_length": 4, "temperature": np.float32(0.0)},
        )
        with pytest.raises(grpc.RpcError) as error:
            grpc_predict(target, "other", {"text": EXAMPLES}, "score")
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        server.stop(None)
    model = tf.saved_model.load(path)
    want = model.signatures["score"](text=tf.constant(EXAMPLES))
    np.testing.assert_allclose(scored["mean_nll"], want["mean_nll"].numpy(), rtol=1e-6)
    assert scored["token_count"].tolist() == want["token_count"].numpy().tolist()
    want = model.signatures["serving_default"](
        prompt=tf.constant(EXAMPLES),
        max_length=tf.constant(4),
        temperature=tf.constant(0.0),
    )
    assert (
        generated["generated_text"].tolist() == want["generated_text"].numpy().tolist()
    )
    assert all(len(text.split()) == 4 for text in generated["generated_text"])
