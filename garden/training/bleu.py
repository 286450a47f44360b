"""Corpus BLEU with sacreBLEU, the field's standard, comparable implementation."""

import sacrebleu


def corpus_bleu(hypotheses, references, lowercase=True):
    """sacreBLEU's corpus BLEU (13a tokenization) of detokenized text.

    Args:
        hypotheses: One output string per sentence.
        references: One reference string per sentence (raw text).
        lowercase: Compare case-insensitively (for models whose vocabulary
            is lower-case, as the garden's translation tokenizer is).

    Returns:
        `(score, signature)`: BLEU in 0..100 and sacreBLEU's signature string,
        which says exactly how it was computed.

    Example:

    >>> score, signature = corpus_bleu(["Il fait beau ."], ["Il fait beau."])
    >>> round(score, 1), signature.startswith("nrefs:1|case:lc|eff:no|tok:13a")
    (100.0, True)
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"Expected one reference per hypothesis, got {len(hypotheses)} "
            f"hypotheses and {len(references)} references."
        )
    bleu = sacrebleu.metrics.BLEU(lowercase=lowercase)
    result = bleu.corpus_score(list(hypotheses), [list(references)])
    return result.score, str(bleu.get_signature())
