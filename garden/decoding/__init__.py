"""Decoding: greedy, temperature, top-k and top-p sampling; beam search."""

from garden.decoding.beam_search import beam_search, tile_beams
from garden.decoding.sampling import (
    filter_top_k,
    filter_top_p,
    generate,
    greedy,
    next_token,
)

__all__ = [
    "beam_search",
    "filter_top_k",
    "filter_top_p",
    "generate",
    "greedy",
    "next_token",
    "tile_beams",
]
