"""Everything between a corpus on disk and the batches a model trains on.

Loaders (`load_*`) find data from an explicit `path`, then `$GARDEN_DATA`,
then the public source with its checksum; tokenizers and `Vocabulary` turn
text into ids the same way in Python and in-graph; the `*_dataset` functions
deliver `tf.data` batches for language models, classifiers, encoder-decoders
and tree networks.
"""

from garden.data.classification import (
    build_review_vocabulary,
    classification_dataset,
    truncate_pad,
)
from garden.data.corpora import (
    load_english_french,
    load_imdb,
    load_ptb,
    load_sst,
    load_time_machine,
)
from garden.data.embeddings import (
    EmbeddingMatrix,
    load_glove_embeddings,
    load_word_vectors_embeddings,
)
from garden.data.language_model import (
    bidirectional_dataset,
    bidirectional_windows,
    language_model_dataset,
    partition_random,
    partition_sequential,
    sentence_dataset,
    token_stream,
    token_streams,
)
from garden.data.preprocessors import TextToIds, encode_texts, shared_encoder
from garden.data.seq2seq import (
    build_translation_vocabularies,
    translation_dataset,
    valid_lengths,
)
from garden.data.sources import (
    CorruptDataError,
    DataNotFoundError,
    cache_directory,
    extract_archive,
    locate,
)
from garden.data.sst_batches import encode_phrases, node_dataset, phrase_dataset
from garden.data.tokenizers import CharacterTokenizer, WordTokenizer
from garden.data.trees import (
    ParsedTree,
    build_tree_vocabulary,
    encode_trees,
    parse_tree,
    tree_dataset,
)
from garden.data.vocabulary import Vocabulary
from garden.data.word_similarity import load_analogies, load_word_pairs

__all__ = [
    "CharacterTokenizer",
    "CorruptDataError",
    "DataNotFoundError",
    "EmbeddingMatrix",
    "ParsedTree",
    "TextToIds",
    "Vocabulary",
    "WordTokenizer",
    "bidirectional_dataset",
    "bidirectional_windows",
    "build_review_vocabulary",
    "build_translation_vocabularies",
    "build_tree_vocabulary",
    "cache_directory",
    "classification_dataset",
    "encode_phrases",
    "encode_texts",
    "encode_trees",
    "extract_archive",
    "language_model_dataset",
    "load_analogies",
    "load_english_french",
    "load_glove_embeddings",
    "load_word_vectors_embeddings",
    "load_imdb",
    "load_ptb",
    "load_sst",
    "load_time_machine",
    "load_word_pairs",
    "locate",
    "node_dataset",
    "parse_tree",
    "partition_random",
    "partition_sequential",
    "phrase_dataset",
    "sentence_dataset",
    "shared_encoder",
    "token_stream",
    "token_streams",
    "translation_dataset",
    "tree_dataset",
    "truncate_pad",
    "valid_lengths",
]
