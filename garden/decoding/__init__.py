"""Decoding for language models: greedy, temperature, top-k and top-p sampling."""

from garden.decoding.sampling import (
    filter_top_k,
    filter_top_p,
    generate,
    greedy,
    next_token,
)

__all__ = ["filter_top_k", "filter_top_p", "generate", "greedy", "next_token"]
