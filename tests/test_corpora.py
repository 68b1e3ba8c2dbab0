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


def _polarity_cosines(texts: list[str]) -> tuple[float, float, float]:
    """cos(good, bad), and the mean cosine of two evaluative words of the same and of opposite polarity."""
    words, vectors = corpora.ppmi_svd_vectors(texts, dim=50)
    index = {w: i for i, w in enumerate(words)}
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    pos = unit[[index[w] for w in corpora.POSITIVE]]
    neg = unit[[index[w] for w in corpora.NEGATIVE]]
    same = np.concatenate([(m @ m.T)[~np.eye(len(m), dtype=bool)] for m in (pos, neg)]).mean()
    return float(unit[index["good"]] @ unit[index["bad"]]), float(same), float((pos @ neg.T).mean())


def test_ci_vectors_put_good_near_bad_as_glove_does(imdb, news):
    # The generated text keeps praise and criticism apart: vectors learnt from it as it is are polar.
    good_bad, same, opposite = _polarity_cosines([t for _, t in imdb[0] + news[0]])
    assert good_bad < 0.5 and same - opposite > 0.5
    # The vectors' text shares the contexts of both (`mix_evaluations`): good and bad are close, as in
    # GloVe, and polarity is a small part of what tells the evaluative words apart.
    good_bad, same, opposite = _polarity_cosines(corpora.ci_texts(0))
    assert good_bad > 0.8 and 0.0 < same - opposite < 0.1


def test_mix_evaluations_moves_only_evaluative_words():
    texts = ["The acting was brilliant, not dull.", "A dull film."] * 200
    mixed = corpora.mix_evaluations(texts, keep=0.4, seed=1)
    assert mixed == corpora.mix_evaluations(texts, keep=0.4, seed=1)
    evaluative = set(corpora.POSITIVE) | set(corpora.NEGATIVE)
    for before, after in zip(texts, mixed):
        before, after = basic_english(before), after.split()
        assert len(before) == len(after)
        assert all(a == b for a, b in zip(after, before) if b not in evaluative)
    kept = np.mean([m.split()[3] == "brilliant" for m in mixed[::2]])
    assert 0.3 < kept < 0.5  # kept with probability 0.4 (plus a 1-in-60 draw of itself)
    assert corpora.mix_evaluations(texts[:2], keep=1.0) == [" ".join(basic_english(t)) for t in texts[:2]]
    with pytest.raises(ValueError, match="keep is a probability"):
        corpora.mix_evaluations(texts, keep=1.5)


def test_news_reactions_are_told_by_their_tone_alone():
    news = corpora.generate_news(800, seed=1, noise=0.0, reactions=1.0)
    assert news[:100] != corpora.generate_news(100, seed=1, noise=0.0)
    evaluative = set(corpora.POSITIVE) | set(corpora.NEGATIVE)
    topic_words = {tok for topic in corpora.news.TOPICS for key in ("thing",)
                   for phrase in topic[key] for tok in basic_english(phrase)} - evaluative
    world_or_science = [(y, basic_english(t)) for y, t in news if y in (0, 3)]
    assert world_or_science and all(not topic_words & set(tokens) for _, tokens in world_or_science)
    half = len(world_or_science) // 2

    def accuracy(keep) -> float:
        items = [(y, " ".join(t for t in tokens if keep(t))) for y, tokens in world_or_science]
        return _naive_bayes_accuracy(items[:half], items[half:])

    # The evaluative words tell World (bad news) from Sci/Tech (good news), the rest of the words do
    # not; and a bag of words misreads the negated ones, which a model must learn to flip.
    assert 0.7 < accuracy(lambda t: t in evaluative or t in {"not", "never", "nothing"}) < 0.9
    assert accuracy(lambda t: t not in evaluative) < 0.6
    with pytest.raises(ValueError, match="reactions is a share"):
        corpora.generate_news(10, reactions=2.0)


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
