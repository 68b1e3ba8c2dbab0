"""The `ci` profile's own data, generated offline: one module per corpus.

Small corpora with real structure, written from templates and word lists (`common`): IMDB-like
reviews (`reviews`), AG-News-like articles (`news`), CoNLL-like sentences (`ner`), WikiText-like
rows (`wikitext`), Yelp-like reviews (`yelp`), guanaco-like conversations (`instructions`) and
GloVe-format word vectors derived from the reviews and news (`vectors`). Nothing here reads a file
or the network; the loaders in `ftcourse.data`, `ner`, `lm` and `sft` call these on `ci`.
"""

from __future__ import annotations

from ftcourse.corpora.common import (
    COMPANIES,
    FIRST_NAMES,
    LAST_NAMES,
    NEGATIVE,
    PLACES,
    POSITIVE,
    label_counts,
)
from ftcourse.corpora.instructions import generate_instructions
from ftcourse.corpora.ner import generate_ner
from ftcourse.corpora.news import (
    AG_NEWS_CLASSES,
    AG_NEWS_SIZES,
    NEWS_TOKENS,
    ag_news_ci,
    generate_news,
)
from ftcourse.corpora.preferences import generate_preferences
from ftcourse.corpora.reviews import (
    IMDB_CLASSES,
    IMDB_SIZES,
    REVIEW_TOKENS,
    generate_reviews,
    imdb_ci,
)
from ftcourse.corpora.vectors import VERSION, ci_texts, mix_evaluations, ppmi_svd_vectors
from ftcourse.corpora.wikitext import generate_lm_corpus
from ftcourse.corpora.world import world_sentences
from ftcourse.corpora.yelp import YELP_SIZES, generate_yelp


def tokenizer_texts(seed: int = 0) -> list[str]:
    """The text the ci tokenizers are trained on (`ftcourse.hf.ci_tokenizer_dir`): generated
    reviews, news, NER sentences, WikiText rows and Yelp reviews, so every ci chapter's words
    are in the vocabulary. Chapter 07 trains a tokenizer on such text."""
    texts = [text for _, text in generate_reviews(600, seed)]
    texts += [text for _, text in generate_news(600, seed)]
    texts += [" ".join(s["tokens"]) for s in generate_ner(600, seed)]
    texts += [line for line in generate_lm_corpus(600, seed) if line]
    texts += [text for _, text in generate_yelp(300, seed)]
    return texts


__all__ = [
    "AG_NEWS_CLASSES",
    "AG_NEWS_SIZES",
    "COMPANIES",
    "FIRST_NAMES",
    "IMDB_CLASSES",
    "IMDB_SIZES",
    "LAST_NAMES",
    "NEGATIVE",
    "NEWS_TOKENS",
    "PLACES",
    "POSITIVE",
    "REVIEW_TOKENS",
    "VERSION",
    "YELP_SIZES",
    "ag_news_ci",
    "ci_texts",
    "generate_instructions",
    "generate_preferences",
    "generate_lm_corpus",
    "generate_ner",
    "generate_news",
    "generate_reviews",
    "generate_yelp",
    "imdb_ci",
    "label_counts",
    "mix_evaluations",
    "ppmi_svd_vectors",
    "tokenizer_texts",
    "world_sentences",
]
