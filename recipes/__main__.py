"""The `garden` command: runs the recipes, and a trained model on texts.

    garden lm --corpus timemachine --epochs 1     # = python -m recipes.language_model
    garden predict saved_models/sentiment "A wonderful film."
    echo "Dull." | garden predict saved_models/sentiment - --json

It lives in `recipes` (also `python -m recipes ...`), outside the `garden`
package, because it must speak before `import garden` runs: it parses a
recipe's flags with the light `recipes.flags` modules and only then loads
Keras and TensorFlow, so `--help` and flag errors answer at once.
"""

import argparse
import importlib
import json
import os
import sys
import tempfile

# Command -> recipe module; the help line is the recipe's own description.
RECIPES = {
    "language-model": "language_model",
    "sentiment": "sentiment",
    "translation": "translation",
    "sst": "sst",
    "word-vectors": "word_vectors",
    "bilm": "bilm",
    "tagging": "tagging",
    "demo": "demo",
}
ALIASES = {"lm": "language-model"}
# `garden.DEFER_KERAS_ENV`, spelled out: reading it would import `garden` too soon.
DEFER_KERAS_ENV = "GARDEN_DEFER_KERAS"


def _recipe_module(command):
    command = ALIASES.get(command, command)
    module = command.replace("_", "-")
    return RECIPES.get(module)


def _description(module):
    doc = importlib.import_module(f"recipes.flags.{module}").__doc__
    return doc.splitlines()[0]


def top_parser():
    """The parser of `garden --help`: one line per subcommand."""
    from garden import __version__

    parser = argparse.ArgumentParser(
        prog="garden",
        description="The recurrent garden: recurrent text models for Keras 3.",
        epilog="`garden COMMAND --help` lists the flags of a command.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command, module in RECIPES.items():
        aliases = [alias for alias, name in ALIASES.items() if name == command]
        commands.add_parser(command, aliases=aliases, help=_description(module))
    commands.add_parser(
        "predict", help="run an export (`garden.load`) on texts and print its outputs"
    )
    return parser


def predict_parser():
    parser = argparse.ArgumentParser(
        prog="garden predict",
        description="Opens any garden export with `garden.load` and prints its "
        "outputs for the texts, one line per text.",
    )
    parser.add_argument("export", help="an export: a SavedModel or its versions")
    parser.add_argument(
        "texts",
        metavar="TEXT",
        nargs="+",
        help="the inputs (trees for an SST tree model, words for word vectors); "
        "- reads one per line from standard input",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per text"
    )
    return parser


def _readable(value):
    import numpy as np

    if isinstance(value, str):
        return value
    return np.array2string(np.asarray(value), precision=4, threshold=8)


def predict(argv):
    args = predict_parser().parse_args(argv)
    texts = []
    for text in args.texts:
        if text == "-":
            texts.extend(line.rstrip("\n") for line in sys.stdin if line.strip())
        else:
            texts.append(text)
    _load_keras()
    import numpy as np

    import garden

    outputs = garden.load(args.export)(texts)
    for index, text in enumerate(texts):
        row = {name: value[index] for name, value in outputs.items()}
        if args.json:
            row = {name: np.asarray(value).tolist() for name, value in row.items()}
            print(json.dumps({"input": text, **row}, ensure_ascii=False))
        else:
            fields = "  ".join(f"{k}={_readable(v)}" for k, v in row.items())
            print(f"{text}\t{fields}")


def _import_tensorflow_quietly(verbose):
    """Imports TensorFlow without the C++ log lines no user can act on.

    Lines after absl's logging starts ("failed call to cuInit" on a machine
    without a GPU, oneDNN's fallbacks) obey TF_CPP_MIN_LOG_LEVEL, kept at its
    default with `--verbose 2` or when the user sets it. Those before (the
    oneDNN notice, "Could not find cuda drivers") do not, so file descriptor 2
    goes to a file during the import, replayed if the import fails.
    """
    if verbose < 2:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    stderr = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(stderr, 2)
            held.seek(0)
            sys.stderr.buffer.write(held.read())
            raise
        finally:
            os.dup2(stderr, 2)
            os.close(stderr)


def _load_keras(verbose=1):
    """Imports TensorFlow and registers the garden's Keras objects, after parsing."""
    os.environ.pop(DEFER_KERAS_ENV, None)
    _import_tensorflow_quietly(verbose)
    import garden

    garden.register_keras_objects()


def run_recipe(command, module, argv):
    """Parses the flags light, then runs the recipe's `main` as `python -m` does."""
    # The parsers name the program after argv[0], as `python -m` does; run.json
    # records it, so a run says how to repeat it.
    program, sys.argv[0] = sys.argv[0], f"garden {command}"
    try:
        args = importlib.import_module(f"recipes.flags.{module}").parse_args(argv)
        _load_keras(getattr(args, "verbose", 1))
        importlib.import_module(f"recipes.{module}").main(argv)
    finally:
        sys.argv[0] = program


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    os.environ[DEFER_KERAS_ENV] = "1"
    try:
        if argv and argv[0] == "predict":
            return predict(argv[1:])
        module = _recipe_module(argv[0]) if argv else None
        if module is not None:
            return run_recipe(argv[0], module, argv[1:])
        top_parser().parse_args(argv or ["--help"])
    finally:
        os.environ.pop(DEFER_KERAS_ENV, None)


if __name__ == "__main__":
    main()
