"""Replays an export's warmup records and REST bodies against its signatures."""

import base64
import json

import numpy as np
import tensorflow as tf

from garden.export.serving import read_warmup_requests, rest_request, signature_inputs


def decode_rest_inputs(body, specs):
    """The tensors TF Serving makes of a decoded REST body's columnar `inputs`.

    Written from TF Serving's REST API description rather than from
    `rest_request`: UTF-8 text, `{"b64": ...}` for binary strings, numbers
    converted to the signature's dtype.
    """

    def text(value):
        if isinstance(value, dict):
            return base64.b64decode(value["b64"])
        if isinstance(value, list):
            return [text(item) for item in value]
        return value.encode("utf-8")

    tensors = {}
    for name, value in body["inputs"].items():
        spec = specs[name]
        if spec.dtype == tf.string:
            value = text(value)
        tensors[name] = tf.constant(value, spec.dtype)
    return tensors


def assert_same_outputs(got, want, context):
    assert sorted(got) == sorted(want), context
    for name in want:
        got_value, want_value = np.asarray(got[name]), np.asarray(want[name])
        assert got_value.shape == want_value.shape, (context, name)
        if want_value.dtype.kind in "fc":
            np.testing.assert_allclose(
                got_value, want_value, rtol=1e-6, atol=1e-7, err_msg=str(context)
            )
        else:
            assert got_value.tolist() == want_value.tolist(), (context, name)


def assert_requests_replay(path, model_name, examples):
    """Warmup records and REST bodies of `examples` give the direct call's outputs.

    Args:
        path: The export's version directory.
        model_name: The name the export was written under.
        examples: `(signature_name, inputs)` pairs the export should have
            written, in order, with the example values as given.
    """
    requests = read_warmup_requests(path)
    assert [(name, sorted(inputs)) for name, inputs in requests] == [
        (name, sorted(inputs)) for name, inputs in examples
    ]
    with open(f"{path}/assets.extra/tf_serving_warmup_requests", "rb") as f:
        assert f.read()  # the record file itself, where TF Serving reads it
    specs = signature_inputs(path)
    model = tf.saved_model.load(path)
    for (name, replayed), (_, given) in zip(requests, examples):
        signature, spec_of = model.signatures[name], specs[name]
        for key, spec in spec_of.items():
            assert replayed[key].dtype == spec.dtype.as_numpy_dtype, (name, key)
            assert spec.shape.is_compatible_with(replayed[key].shape), (name, key)
        direct = signature(
            **{key: tf.constant(v, spec_of[key].dtype) for key, v in given.items()}
        )
        from_warmup = signature(
            **{key: tf.constant(value) for key, value in replayed.items()}
        )
        assert_same_outputs(from_warmup, direct, (model_name, name, "warmup"))

        body = json.loads(json.dumps(rest_request(given, signature_name=name)))
        assert body["signature_name"] == name and sorted(body) == [
            "inputs",
            "signature_name",
        ]
        from_rest = signature(**decode_rest_inputs(body, spec_of))
        assert_same_outputs(from_rest, direct, (model_name, name, "rest"))
    return requests
