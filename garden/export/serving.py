"""TF Serving: the version layout, warmup requests, and REST and gRPC requests.

TF Serving loads `<base_path>/<version>/` for a model named in its
`--model_config_file` (see `serving/models.config`) and, before it serves a
version, replays the `PredictionLog` records of
`<version>/assets.extra/tf_serving_warmup_requests`, so the first real request
does not pay for the lazy initialisation of the graph. Every export writes that
file from example inputs. Clients talk to the server over REST (the JSON of
`rest_request`) or gRPC (`predict_request`, `grpc_predict`).
"""

import base64
import os
import shutil
import tempfile

import grpc
import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
)

from garden.export.limits import (
    MAX_BATCH_SIZE,
    MAX_REQUEST_CHARACTERS,
    MAX_TEXT_LENGTH,
)

# Where TF Serving looks for warmup records, relative to a version directory.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
# TF Serving replays at most this many warmup records per version.
MAX_WARMUP_RECORDS = 1000


def tracking_archive(*tracked):
    """A `keras.export.ExportArchive` that tracks `tracked`, in that order.

    The lookup layers of `Vocabulary.to_string_lookup` (and other layers that
    hold state but are never called before the export) are built first, so
    their tables are created and saved with the model.
    """
    archive = keras.export.ExportArchive()
    for layer in tracked:
        if not layer.built:
            layer.build(None)
        archive.track(layer)
    return archive


def text_in_model(preprocessor, model):
    """`model` behind its task's preprocessor: a Keras model of raw strings.

    What an export's `<version>.keras` holds, so that the file loaded with
    `keras.saving.load_model` (after `import garden`) takes text:
    `loaded.predict(np.array(texts, dtype=object))`.

    Args:
        preprocessor: The task's `garden.data.TextToIds` (dense output).
        model: The trained model of ids.

    Returns:
        The functional `keras.Model`, input `text` (strings `(batch,)`).
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(text, model(preprocessor(text)), name=f"{model.name}_text")


def within_limits(tensor, *checks):
    """`tensor`, computed only once every check of a request's size has held.

    Args:
        tensor: What the rest of the graph reads (the request's texts).
        *checks: `(value, limit, message)`: a scalar tensor, the most it may
            be, and the error message, a `tf.strings.format` template whose
            `{}` is the value.

    Returns:
        `tensor`; past a limit, the call fails with an `InvalidArgumentError`
        carrying the message, before any work that depends on `tensor`.
    """
    asserts = [
        tf.debugging.Assert(value <= limit, [tf.strings.format(message, value)])
        for value, limit, message in checks
    ]
    with tf.control_dependencies(asserts):
        return tf.identity(tensor)


def limited_texts(texts, name):
    """The string input `name` of a request, checked against the shared limits.

    At most `MAX_BATCH_SIZE` texts, each of at most `MAX_TEXT_LENGTH`
    characters (Unicode code points; a byte that is not UTF-8 counts as one),
    and `MAX_REQUEST_CHARACTERS` in all.

    Args:
        texts: string `(batch,)`.
        name: The input's name in the signature, for the error messages.

    Returns:
        `texts`, once within the limits.
    """
    lengths = tf.strings.length(texts, unit="UTF8_CHAR")
    longest = tf.reduce_max(tf.concat([lengths, [0]], axis=0))
    return within_limits(
        texts,
        (
            tf.size(texts),
            MAX_BATCH_SIZE,
            f"Received {{}} texts in input `{name}`, expected at most "
            f"MAX_BATCH_SIZE = {MAX_BATCH_SIZE} per request.",
        ),
        (
            longest,
            MAX_TEXT_LENGTH,
            f"Received a text of {{}} characters in input `{name}`, expected at "
            f"most MAX_TEXT_LENGTH = {MAX_TEXT_LENGTH} per text.",
        ),
        (
            tf.reduce_sum(lengths),
            MAX_REQUEST_CHARACTERS,
            f"Received {{}} characters in input `{name}`, expected at most "
            f"MAX_REQUEST_CHARACTERS = {MAX_REQUEST_CHARACTERS} per request.",
        ),
    )


def nonempty_batch(texts):
    """`texts` with one "" appended when there are none, and the real count.

    Recurrent and convolutional models fail on a batch of zero rows, so an
    empty request runs the model on one empty text; cut the outputs back to
    the returned count, which gives each output its zero rows.

    Args:
        texts: string `(batch,)`.

    Returns:
        `(texts, batch)`: string `(max(batch, 1),)` and the int32 count.
    """
    batch = tf.shape(texts)[0]
    return tf.pad(texts, [[0, tf.maximum(1 - batch, 0)]]), batch


def next_version(root, model_name):
    """One more than the highest numeric version under `root/model_name` (1 if none)."""
    model_dir = os.path.join(root, model_name)
    versions = [
        int(entry)
        for entry in (os.listdir(model_dir) if os.path.isdir(model_dir) else [])
        if entry.isdigit()
    ]
    return max(versions, default=0) + 1


def write_version(root, model_name, write, warmup_requests=None):
    """Writes a new version with `write(directory)`, then renames it into place.

    TF Serving watches `root/model_name` and loads any numeric directory it
    finds, so a half-written export must never carry a number: it is written
    under a hidden temporary name beside the versions, warmup requests
    included, and renamed at the end.

    Args:
        root: The export root (TF Serving's `--model_base_path` parent).
        model_name: The served model's name.
        write: `directory -> None`, writes the SavedModel into `directory`.
        warmup_requests: `(signature_name, inputs)` pairs written to
            `assets.extra/tf_serving_warmup_requests` with
            `write_warmup_requests`; `None` writes no warmup file.

    Returns:
        The final version directory.
    """
    if not model_name or os.sep in model_name or model_name.startswith("."):
        raise ValueError(
            "Received an invalid value for argument `model_name`, expected a "
            f"plain directory name, got {model_name!r}."
        )
    model_dir = os.path.join(root, model_name)
    os.makedirs(model_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=model_dir)
    try:
        target = os.path.join(staging, "saved_model")
        write(target)
        if warmup_requests is not None:
            write_warmup_requests(target, model_name, warmup_requests)
        final = os.path.join(model_dir, str(next_version(root, model_name)))
        os.rename(target, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def signature_inputs(export_dir):
    """The inputs of every signature of a SavedModel, read from `saved_model.pb`.

    Args:
        export_dir: A SavedModel directory (with the `serve` tag).

    Returns:
        `{signature_name: {input_name: tf.TensorSpec}}`, without TensorFlow's
        internal signatures (names starting with "__").
    """
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    for meta_graph in saved_model.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return {
                name: {
                    key: tf.TensorSpec(
                        tf.TensorShape(tensor.tensor_shape),
                        tf.dtypes.as_dtype(tensor.dtype),
                        name=key,
                    )
                    for key, tensor in signature.inputs.items()
                }
                for name, signature in meta_graph.signature_def.items()
                if not name.startswith("__")
            }
    raise ValueError(
        "Received an invalid value for argument `export_dir`, expected a "
        f"SavedModel with the `serve` tag, got {export_dir!r}."
    )


def example_texts(examples, argument="examples"):
    """Checks that `examples` is a non-empty list of strings and returns it.

    Args:
        examples: The example texts of an export's warmup requests.
        argument: The argument's name in the error message.

    Returns:
        `examples` as a list.
    """
    if (
        isinstance(examples, (str, bytes))
        or not isinstance(examples, (list, tuple))
        or not examples
        or not all(isinstance(text, str) for text in examples)
    ):
        raise ValueError(
            f"Received an invalid value for argument `{argument}`, expected a "
            f"non-empty list of strings, got {examples!r:.200}."
        )
    return list(examples)


def example_number(value, argument, minimum=None, maximum=None, integer=False):
    """Checks one scalar input of an export's warmup request and returns it.

    Args:
        value: The example value (`max_length`, `temperature`, `beam_width`).
        argument: The argument's name in the error message.
        minimum, maximum: Inclusive bounds, `None` for none.
        integer: Whether only integers are accepted.

    Returns:
        `value`.
    """
    types = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    accepted = (
        isinstance(value, types)
        and not isinstance(value, bool)
        and np.isfinite(value)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    )
    if not accepted:
        expected = "an integer" if integer else "a finite number"
        if minimum is not None and maximum is not None:
            expected += f" in [{minimum}, {maximum}]"
        elif minimum is not None or maximum is not None:
            expected += f" >= {minimum}" if minimum is not None else f" <= {maximum}"
        raise ValueError(
            f"Received an invalid value for argument `{argument}`, expected "
            f"{expected}, got {value!r}."
        )
    return value


def _as_array(value, spec, where):
    """`value` as a NumPy array of `spec`'s dtype and a shape `spec` accepts."""
    dtype = spec.dtype
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nested lists
        array = np.asarray(None, dtype=object)
    kind = array.dtype.kind
    if dtype == tf.string:
        accepted = kind in "SU" or (
            kind == "O" and all(isinstance(v, (str, bytes)) for v in array.flat)
        )
    elif dtype.is_integer:
        accepted = kind in "iu" and (
            array.size == 0 or (array.min() >= dtype.min and array.max() <= dtype.max)
        )
    elif dtype.is_floating:
        accepted = kind in "iuf"
    elif dtype.is_bool:
        accepted = kind == "b"
    else:
        accepted = False
    if not accepted or not spec.shape.is_compatible_with(array.shape):
        raise ValueError(
            f"Received an invalid value for {where}, expected {dtype.name} of "
            f"shape {spec.shape}, got {value!r:.200} "
            f"({array.dtype} of shape {array.shape})."
        )
    if dtype == tf.string:
        encoded = [v.encode("utf-8") if isinstance(v, str) else v for v in array.flat]
        return np.array(encoded, dtype=object).reshape(array.shape)
    return array.astype(dtype.as_numpy_dtype)


def predict_request(
    model_name, inputs, signature_name="serving_default", version=None, specs=None
):
    """A TF Serving gRPC `PredictRequest`.

    Args:
        model_name: The served model's name (`models.config`'s `name`).
        inputs: `{input_name: value}`; strings, lists, NumPy arrays.
        signature_name: The SavedModel signature to run.
        version: A version number to ask for; `None` for the latest.
        specs: `{input_name: tf.TensorSpec}` of the signature
            (`signature_inputs(export_dir)[signature_name]`): the names must
            match it and each value is converted to its dtype. Without
            `specs`, values convert as `tf.constant` does (Python floats to
            float32, ints to int32, str to string; NumPy arrays keep their
            dtype).

    Returns:
        A `tensorflow_serving.apis.predict_pb2.PredictRequest`.
    """
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(
            "Received an invalid value for argument `inputs`, expected a "
            f"non-empty dict of input names to values, got {inputs!r:.200}."
        )
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    if specs is not None and set(inputs) != set(specs):
        raise ValueError(
            f"Received an invalid value for argument `inputs` of signature "
            f"{signature_name!r}, expected the inputs {sorted(specs)}, got "
            f"{sorted(inputs)}."
        )
    for name, value in inputs.items():
        if specs is not None:
            where = f"input {name!r} of signature {signature_name!r}"
            value = _as_array(value, specs[name], where)
            proto = tf.make_tensor_proto(value, dtype=specs[name].dtype)
        else:
            proto = tf.make_tensor_proto(value)
        request.inputs[name].CopyFrom(proto)
    return request


def write_warmup_requests(export_dir, model_name, requests):
    """Writes `<export_dir>/assets.extra/tf_serving_warmup_requests`.

    One `PredictionLog` record per request, its `predict_log.request` a
    `PredictRequest` for `model_name` and the signature, the inputs checked
    against the signature (names, dtypes, shapes) and converted to its
    dtypes, so a bad example fails here rather than when TF Serving loads
    the version (a failing warmup request fails the load).

    Args:
        export_dir: The SavedModel directory (`saved_model.pb` written).
        model_name: The served model's name.
        requests: `(signature_name, inputs)` pairs; `inputs` maps each input
            name of the signature to its value (a batch of strings, a scalar).

    Returns:
        The path of the warmup file.
    """
    requests = list(requests)
    if not requests or len(requests) > MAX_WARMUP_RECORDS:
        raise ValueError(
            "Received an invalid value for argument `requests`, expected 1 to "
            f"{MAX_WARMUP_RECORDS} (signature_name, inputs) pairs, got "
            f"{len(requests)}."
        )
    signatures = signature_inputs(export_dir)
    logs = []
    for signature_name, inputs in requests:
        if signature_name not in signatures:
            raise ValueError(
                "Received an invalid value for argument `requests`, expected "
                f"signatures among {sorted(signatures)}, got {signature_name!r}."
            )
        request = predict_request(
            model_name, inputs, signature_name, specs=signatures[signature_name]
        )
        logs.append(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
        )
    path = os.path.join(export_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(export_dir):
    """Reads an export's warmup requests back, to replay them.

    Args:
        export_dir: A version directory written with warmup requests.

    Returns:
        A list of `(signature_name, inputs)`, `inputs` a dict of NumPy arrays
        (strings as `bytes`), in the order they were written. Replay one with
        `tf.saved_model.load(export_dir).signatures[signature_name](
        **{k: tf.constant(v) for k, v in inputs.items()})`.
    """
    path = os.path.join(export_dir, WARMUP_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No warmup requests at {path}.")
    requests = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        if log.WhichOneof("log_type") != "predict_log":
            raise ValueError(
                f"Expected only predict_log records in {path}, got "
                f"{log.WhichOneof('log_type')!r}."
            )
        request = log.predict_log.request
        requests.append(
            (
                request.model_spec.signature_name or "serving_default",
                {
                    name: tf.make_ndarray(proto)
                    for name, proto in request.inputs.items()
                },
            )
        )
    return requests


def _json_value(value):
    """A value as JSON: lists, numbers, UTF-8 text, else TF Serving's {"b64": ...}."""
    if isinstance(value, tf.Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.generic):
        return value.item()
    return value


def rest_request(inputs, signature_name="serving_default"):
    """The JSON body of TF Serving's REST predict API, in the columnar format.

    POST it to `http://HOST:8501/v1/models/<name>[/versions/<v>]:predict`.
    The columnar (`"inputs"`) format is used rather than `"instances"`
    because some signatures take scalars (`max_length`, `beam_width`) next
    to the batch of texts, which the row format cannot express. The server
    converts each value to the signature's dtype.

    Args:
        inputs: `{input_name: value}`: strings, numbers, lists, NumPy arrays.
        signature_name: The SavedModel signature to run.

    Returns:
        A dict ready for `json.dumps`: `{"signature_name": ..., "inputs":
        {...}}`; text that is not UTF-8 is sent as `{"b64": ...}`.

    Example:

    >>> rest_request({"text": ["Go."], "beam_width": 4})
    {'signature_name': 'serving_default', 'inputs': {'text': ['Go.'], 'beam_width': 4}}
    """
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(
            "Received an invalid value for argument `inputs`, expected a "
            f"non-empty dict of input names to values, got {inputs!r:.200}."
        )
    return {
        "signature_name": signature_name,
        "inputs": {name: _json_value(value) for name, value in inputs.items()},
    }


def outputs_of(response):
    """The outputs of a gRPC `PredictResponse` as a dict of NumPy arrays."""
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def grpc_predict(
    target,
    model_name,
    inputs,
    signature_name="serving_default",
    version=None,
    timeout=30.0,
):
    """Calls a TF Serving model over gRPC (`PredictionService.Predict`).

    Args:
        target: The server's gRPC address, e.g. "localhost:8500".
        model_name: The served model's name.
        inputs: `{input_name: value}`, converted as `predict_request` does
            without `specs`: pass `np.float32`/`np.int32` values where the
            signature wants them and Python's defaults would differ.
        signature_name: The SavedModel signature to run.
        version: A version number to ask for; `None` for the latest.
        timeout: Seconds to wait for the answer.

    Returns:
        The outputs as a dict of NumPy arrays (strings as `bytes`).
    """
    request = predict_request(model_name, inputs, signature_name, version)
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=timeout)
    return outputs_of(response)
