"""Each recipe's flags, in modules that import no Keras or TensorFlow.

The `garden` command parses a recipe's flags (and answers `--help`) before it
pays for those imports; the recipe module re-exports its `parse_args`.
"""

# Names and sizes the flags offer, copied from the garden modules that own them
# (whose imports load TensorFlow); tests/test_command.py checks they match.
MAX_LENGTH_LIMIT = 1_000  # garden.export.limits
CLASSIFIERS = (
    "bow",
    "nbsvm",
    "birnn",
    "textcnn",
    "ulmfit",
)  # garden.models.classifiers
BAG_OF_WORDS_MODES = ("multi_hot", "tf_idf")  # garden.layers.bag_of_words
TREE_MODELS = ("treernn", "treelstm")  # garden.models.tree
SST_MODELS = (*TREE_MODELS, "bilstm")  # garden.models.tree
GLOVE_DIMENSION = 50  # garden.data.embeddings
PUNCTUATION_WINDOW = 200  # garden.data.punctuation


def resolve_glove_width(parser, args, random_dim):
    """Fills in `--embedding-dim` for `--embeddings random|glove`.

    GloVe's vectors fix the width (another is refused); random embeddings
    take `random_dim` unless the flag gives one.
    """
    glove = args.embeddings == "glove"
    if glove and args.embedding_dim not in (None, GLOVE_DIMENSION):
        parser.error(
            f"argument --embedding-dim: the glove vectors have {GLOVE_DIMENSION}"
        )
    if args.embedding_dim is None:
        args.embedding_dim = GLOVE_DIMENSION if glove else random_dim
