"""GloVe-format word vectors for the ci profile: PPMI of co-occurrences in the generated reviews
and news, truncated SVD. `ftcourse.data.glove_path` caches them keyed on a hash of the text.

In real text "good" and "bad" share their contexts (a good film, a bad film), so GloVe puts them
close together. The generated text keeps praise and criticism in
separate sentences; `mix_evaluations` puts them back in shared contexts before the vectors are
learnt, so that much of telling positive words from negative ones is left to training (chapter 02).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

import numpy as np

from ftcourse.corpora.common import NEGATIVE, POSITIVE
from ftcourse.corpora.news import ag_news_ci
from ftcourse.corpora.reviews import imdb_ci
from ftcourse.text import basic_english

# Part of the cache key of the `ci` vectors (with the text itself): bump on a change of method.
VERSION = 4
# Share of evaluative words that keep their place in the vectors' text; the rest are drawn at random
# from both polarities. At 0.4 "good" and "bad" have a cosine of about 0.86 and a linear model on
# the vectors still finds most words' polarity, as on real GloVe. Much lower, the chapters' news
# model does not learn polarity within the ci budget; much higher, a model trained from scratch
# needs no pre-training (measured with chapters 02 and 04 over five seeds).
EVALUATIVE_KEEP = 0.4


def ppmi_svd_vectors(
    texts: Iterable[str],
    dim: int = 50,
    window: int = 4,
    scale: float = 4.0,
    seed: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Word vectors from raw text: PPMI of co-occurrences within `window`, truncated SVD.

    Returns (words, [len(words), dim] float32 array), most frequent words first as in GloVe's
    files; every basic_english token of `texts` is included. Rows are scaled to norm `scale`
    (GloVe 6B's vectors have norms of about 4-6).
    """
    docs = [basic_english(t) for t in texts]
    counts = Counter(token for doc in docs for token in doc)
    if not counts:
        raise ValueError("ppmi_svd_vectors got no tokens")
    words = [w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    index = {w: i for i, w in enumerate(words)}
    size = len(words)
    if not 0 < dim < size:
        raise ValueError(f"dim must be between 1 and the vocabulary size - 1 ({size - 1}), got {dim}")
    ids = [np.fromiter((index[t] for t in doc), dtype=np.int64, count=len(doc)) for doc in docs]
    cooc = np.zeros(size * size, dtype=np.float64)
    for distance in range(1, window + 1):
        left = np.concatenate([d[:-distance] for d in ids if len(d) > distance] or [np.zeros(0, np.int64)])
        right = np.concatenate([d[distance:] for d in ids if len(d) > distance] or [np.zeros(0, np.int64)])
        weight = 1.0 / distance  # nearer words count more, as GloVe weights them
        cooc += weight * np.bincount(left * size + right, minlength=size * size)
        cooc += weight * np.bincount(right * size + left, minlength=size * size)
    cooc = cooc.reshape(size, size)
    total = cooc.sum()
    row = cooc.sum(axis=1)
    # Context-distribution smoothing (exponent 0.75) keeps rare words from dominating PPMI.
    context = row**0.75
    context /= context.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(cooc / total) - np.log(row / total)[:, None] - np.log(context)[None, :]
    ppmi = np.where(cooc > 0, np.maximum(pmi, 0.0), 0.0)
    u, s = _truncated_svd(ppmi, dim, seed)
    vectors = u * np.sqrt(s)[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = scale * vectors / np.where(norms > 0, norms, 1.0)
    # Float64 throughout, then 4 decimals: machines that sum in another order (other BLAS,
    # other thread counts) still write the same file, so ci metrics repeat everywhere.
    return words, np.round(vectors, 4).astype(np.float32)


def _truncated_svd(matrix: np.ndarray, rank: int, seed: int, power: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Top-`rank` left singular vectors and values by randomized SVD (Halko et al. 2011)."""
    rng = np.random.default_rng(seed)
    probe = rng.standard_normal((matrix.shape[1], rank + 10)).astype(matrix.dtype)
    basis, _ = np.linalg.qr(matrix @ probe)
    for _ in range(power):  # power iterations sharpen the spectrum
        basis, _ = np.linalg.qr(matrix.T @ basis)
        basis, _ = np.linalg.qr(matrix @ basis)
    u_small, s, _ = np.linalg.svd(basis.T @ matrix, full_matrices=False)
    u = basis @ u_small[:, :rank]
    # Fix each column's sign so the same text always gives the same vectors.
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(rank)])
    return u * np.where(signs == 0, 1.0, signs), s[:rank]


def mix_evaluations(texts: Iterable[str], keep: float = EVALUATIVE_KEEP, seed: int = 0) -> list[str]:
    """`texts` as basic_english tokens joined by spaces, each evaluative word (`POSITIVE`,
    `NEGATIVE`) kept with probability `keep`, else replaced by one drawn from both lists: the ci
    vectors' text, where good and bad words share contexts as in real text (chapter 02)."""
    if not 0.0 <= keep <= 1.0:
        raise ValueError(f"keep is a probability between 0 and 1, got {keep}")
    evaluative = sorted(set(POSITIVE) | set(NEGATIVE))
    known = set(evaluative)
    rng = random.Random(seed)
    return [
        " ".join((rng.choice(evaluative) if rng.random() >= keep else w) if w in known else w
                 for w in basic_english(text))
        for text in texts
    ]


def ci_texts(seed: int = 0) -> list[str]:
    """Every text of the `ci` corpora (both tasks, train and test), evaluative words mixed
    (`mix_evaluations`): the vectors' training text."""
    texts: list[str] = []
    for train, test in (imdb_ci(seed), ag_news_ci(seed)):
        texts.extend(text for _, text in train + test)
    return mix_evaluations(texts, seed=seed)
