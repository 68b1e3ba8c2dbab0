"""The ci profile's generated corpora and word vectors (ftcourse.corpora)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from ftcourse import corpora
from ftcourse.corpora.common import typo
from ftcourse.text import basic_english


@pytest.fixture(scope="module")
def imdb():
    return corpora.imdb_ci(0)


@pytest.fixture(scope="module")
def news():
    return corpora.ag_news_ci(0)


def test_same_seed_same_corpus_other_seed_other_corpus():
    assert corpora.generate_reviews(60, seed=3) == corpora.generate_reviews(60, seed=3)
    assert corpora.generate_news(60, seed=3) == corpora.generate_news(60, seed=3)
    assert corpora.generate_reviews(60, seed=3) != corpora.generate_reviews(60, seed=4)
    assert corpora.generate_news(60, seed=3) != corpora.generate_news(60, seed=4)


def test_sizes_and_balance(imdb, news):
    (train, test), (news_train, news_test) = imdb, news
    assert (len(train), len(test)) == corpora.IMDB_SIZES == (1400, 1000)
    assert (len(news_train), len(news_test)) == corpora.AG_NEWS_SIZES == (3000, 1000)
    # Balanced before label noise; the few flipped labels move each count by a few percent.
    for items, classes in ((train, 2), (news_train, 4)):
        counts = corpora.label_counts(items)
        assert sorted(counts) == list(range(classes))
        assert all(abs(c - len(items) / classes) < 0.05 * len(items) for c in counts.values())
    assert set(corpora.label_counts(corpora.generate_reviews(100, noise=0.0)).values()) == {50}
    assert set(corpora.label_counts(corpora.generate_news(100, noise=0.0)).values()) == {25}


def test_train_and_test_do_not_share_texts(imdb, news):
    for train, test in (imdb, news):
        assert not {t for _, t in train} & {t for _, t in test}


def test_lengths_in_range(imdb, news):
    review_lengths = [len(basic_english(t)) for _, t in imdb[0] + imdb[1]]
    news_lengths = [len(basic_english(t)) for _, t in news[0] + news[1]]
    assert corpora.REVIEW_TOKENS[0] <= min(review_lengths) and max(review_lengths) <= corpora.REVIEW_TOKENS[1]
    assert corpora.NEWS_TOKENS[0] <= min(news_lengths) and max(news_lengths) <= corpora.NEWS_TOKENS[1]
    # Varied, not all cut to one size.
    assert np.std(review_lengths) > 15 and np.std(news_lengths) > 5


def test_reviews_look_like_imdb(imdb):
    texts = [t for split in imdb for _, t in split]
    assert sum("<br /><br />" in t for t in texts) > 0.1 * len(texts)
    tokens = Counter(tok for t in texts for tok in basic_english(t))
    assert tokens["not"] > 100 and tokens["never"] > 50
    assert tokens["!"] > 0 and tokens["<br"] == 0
    # A misspelling is a fixed variant of a real word (so typos recur, as they do in real text).
    assert typo("brilliant") != "brilliant"
    assert sorted(typo("brilliant")) == sorted("brilliant")
    misspelt = {typo(w) for w in (*corpora.POSITIVE, *corpora.NEGATIVE)} - {
        *corpora.POSITIVE, *corpora.NEGATIVE}
    assert sum(tokens[t] for t in misspelt) > 0


def test_news_shares_the_evaluative_words(news):
    tokens = Counter(tok for _, t in news[0] for tok in basic_english(t))
    shared = [w for w in corpora.POSITIVE + corpora.NEGATIVE if tokens[w] > 0]
    assert len(shared) > 0.9 * len(corpora.POSITIVE + corpora.NEGATIVE)


def _naive_bayes_accuracy(train, test) -> float:
    classes = sorted({y for y, _ in train})
    counts = {c: Counter() for c in classes}
    for y, text in train:
        counts[y].update(basic_english(text))
    vocab = set().union(*counts.values())
    totals = {c: sum(counts[c].values()) for c in classes}
    hits = 0
    for y, text in test:
        scores = {
            c: sum(math.log((counts[c][t] + 1) / (totals[c] + len(vocab))) for t in basic_english(text))
            for c in classes
        }
        hits += max(scores, key=scores.get) == y
    return hits / len(test)


def test_labels_are_learnable_but_not_trivial(imdb, news):
    # A bag-of-words baseline: well above chance, but noise, negation and mixed reviews keep
    # it away from 100%.
    assert 0.75 <= _naive_bayes_accuracy(*imdb) <= 0.97
    assert 0.75 <= _naive_bayes_accuracy(*news) <= 0.97


def test_generators_reject_negative_sizes():
    with pytest.raises(ValueError, match="n must be"):
        corpora.generate_reviews(-1)
    with pytest.raises(ValueError, match="n must be"):
        corpora.generate_news(-1)


def test_ppmi_svd_vectors_on_a_toy_corpus():
    texts = ["the cat sat on the mat", "the dog sat on the mat", "a car drove on the road"] * 20
    words, vectors = corpora.ppmi_svd_vectors(texts, dim=4, window=2, scale=3.0)
    assert words[0] == "the"  # most frequent first, as in GloVe files
    assert set(words) == {tok for t in texts for tok in basic_english(t)}
    assert vectors.shape == (len(words), 4) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 3.0, atol=1e-3)  # 4 decimals
    v = dict(zip(words, vectors))
    assert v["cat"] @ v["dog"] > v["cat"] @ v["road"]  # same contexts, closer vectors
    # Rounded, so that another summation order (BLAS, thread count) writes the same file.
    assert np.array_equal(vectors, np.round(vectors, 4))
    again_words, again = corpora.ppmi_svd_vectors(texts, dim=4, window=2, scale=3.0)
    assert again_words == words and np.array_equal(again, vectors)


def test_ppmi_svd_vectors_rejects_bad_input():
    with pytest.raises(ValueError, match="no tokens"):
        corpora.ppmi_svd_vectors(["", "  "])
    with pytest.raises(ValueError, match="dim must be"):
        corpora.ppmi_svd_vectors(["a b c"], dim=5)


def test_ci_vectors_separate_praise_from_criticism(imdb, news):
    texts = [t for _, t in imdb[0] + news[0]]
    words, vectors = corpora.ppmi_svd_vectors(texts, dim=50)
    index = {w: i for i, w in enumerate(words)}
    pos = vectors[[index[w] for w in corpora.POSITIVE]]
    neg = vectors[[index[w] for w in corpora.NEGATIVE]]
    # Nearest-centroid by cosine, leaving each word out of its own centroid.
    correct = 0
    for own, other in ((pos, neg), (neg, pos)):
        for i, word in enumerate(own):
            rest = np.delete(own, i, axis=0).mean(0)
            correct += word @ rest > word @ other.mean(0)
    assert correct / (len(pos) + len(neg)) > 0.9


def test_generated_yelp_is_balanced_graded_and_deterministic():
    items = corpora.generate_yelp(500, seed=3)
    assert items == corpora.generate_yelp(500, seed=3)
    counts = [sum(1 for label, _ in items if label == s) for s in range(5)]
    assert min(counts) > 80
    positive = set(corpora.POSITIVE)

    def praise(text: str) -> float:
        return sum(w.strip(".,") in positive for w in text.split())

    means = [sum(praise(t) for y, t in items if y == s) / counts[s] for s in range(5)]
    assert means == sorted(means) and means[4] - means[0] > 2  # more stars, more praise
