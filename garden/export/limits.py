"""The limits a served model enforces on a request, in one place.

Every exported signature checks them inside its graph, before the model runs,
and fails a request past one with an `InvalidArgumentError` that names the
limit and the value received, so no request can hold a server for long. They
are sized from real data (IMDb's longest review has about 13,700 characters, SST's
deepest tree 29 levels and longest tree 687 characters) and from the time
the largest models in the docs take at a limit on a 2-core CPU (at most
about 3.5 seconds).
"""

# Texts (reviews, prompts, sentences, trees, words) in one request.
MAX_BATCH_SIZE = 1_000
# Characters (Unicode code points) in one text.
MAX_TEXT_LENGTH = 20_000
# Characters of all texts of one request together: a thousand reviews of
# average length fit, a thousand of the longest do not (tokenizing 20 million
# characters took a classifier 9.5 s).
MAX_REQUEST_CHARACTERS = 2_000_000
# Language model: tokens of one text. Each token is one step of the
# recurrent network, which no batching makes parallel.
MAX_PROMPT_TOKENS = 5_000
# Language model: texts times the steps of the longest, (tokens of the
# longest text, plus `max_length` when generating): the padded batch the
# recurrent network runs.
MAX_BATCH_TOKENS = 20_000
# Language model: tokens generated per text; a larger `max_length` is clipped.
MAX_LENGTH_LIMIT = 1_000
# Translation: tokens of a translation (a bound on the decoding loop).
MAX_OUTPUT_LENGTH = 200
# Translation: the beam width is clipped to [1, MAX_BEAM_WIDTH].
MAX_BEAM_WIDTH = 16
# SST trees: levels from the root to the deepest leaf (the tree network
# composes one level at a time).
MAX_TREE_DEPTH = 100
# SST trees: characters of all trees of a request together (the in-graph
# parser reads one token at a time).
MAX_TREE_CHARACTERS = 50_000
