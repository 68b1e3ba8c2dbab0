"""Watching a deployed classifier: drift checks and canary inputs (chapter 15).

A model that scored well on its test set can go wrong after deployment without a single error
in the logs: the inputs drift away from the training data (new topics, new words, longer or
shorter texts), or a deploy ships the wrong tokenizer, labels or weights. Two cheap checks catch
much of this without any new labels:

- **Drift**: compare a reference slice (inputs and predictions logged when the model was
  validated) with a recent slice. `population_stability_index` (PSI) measures how far a
  distribution moved; `drift_check` computes it for the predicted labels, the confidence, the
  text length and the word distribution, and flags each feature above a threshold.
- **Canaries**: a handful of fixed inputs whose right answer is not in doubt, run after every
  deploy (`run_canaries`); a failure names the canary.

PSI is `sum((a - e) * ln(a / e))` over bins, with `e` and `a` the reference and current shares
of each bin. The usual rules of thumb: below 0.1 stable, 0.1 to 0.25 worth a look, above 0.25 a
real shift (`PSI_WATCH`, `PSI_ALERT`). When SciPy is installed, `drift_check` adds a two-sample
test's p-value per feature (Kolmogorov-Smirnov for numbers, chi-square for categories); with
thousands of inputs these flag even tiny, harmless shifts, so the decision here rests on PSI.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PSI_WATCH = 0.1
PSI_ALERT = 0.25
EPSILON = 1e-4  # the smallest share a bin may have in the PSI formula (an empty bin would give inf)


# ---------------------------------------------------------------------------------------------
# Population stability index
def psi_from_shares(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """PSI of two distributions given as shares of the same bins (each summing to 1).

    Shares below `epsilon` are raised to it, so an empty bin costs a large but finite amount.
    """
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.shape != a.shape or e.ndim != 1 or e.size == 0:
        raise ValueError(f"expected and actual must be 1-D and of the same length: {e.shape}, {a.shape}")
    if (e < 0).any() or (a < 0).any():
        raise ValueError("shares must not be negative")
    for name, v in (("expected", e), ("actual", a)):
        if not math.isclose(float(v.sum()), 1.0, abs_tol=1e-6):
            raise ValueError(f"{name} shares sum to {v.sum():.6f}, not 1: pass shares "
                             "(or counts to psi_from_counts)")
    e = np.clip(e, epsilon, None)
    a = np.clip(a, epsilon, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_from_counts(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """PSI of two histograms given as counts over the same bins."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("each histogram needs at least one count")
    return psi_from_shares(e / e.sum(), a / a.sum(), epsilon)


def quantile_edges(reference: Sequence[float], bins: int = 10) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (repeated edges merged): about equal shares."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    values = np.asarray(reference, dtype=float)
    if values.size == 0:
        raise ValueError("the reference sample is empty")
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def histogram(values: Sequence[float], edges: np.ndarray) -> np.ndarray:
    """Counts of `values` in the bins that the inner `edges` define (open at both ends)."""
    index = np.searchsorted(edges, np.asarray(values, dtype=float), side="right")
    return np.bincount(index, minlength=len(edges) + 1)


def population_stability_index(reference: Sequence[float], current: Sequence[float], bins: int = 10,
                               epsilon: float = EPSILON) -> float:
    """PSI of a numeric feature: bins at the reference's quantiles, the same bins for `current`."""
    if len(current) == 0:
        raise ValueError("the current sample is empty")
    edges = quantile_edges(reference, bins)
    return psi_from_counts(histogram(reference, edges), histogram(current, edges), epsilon)


def category_shares(values: Iterable, categories: Sequence) -> np.ndarray:
    """Shares of each of `categories` in `values` (a value outside them raises)."""
    counts = Counter(values)
    unknown = set(counts) - set(categories)
    if unknown:
        raise ValueError(f"values {sorted(map(str, unknown))} are not among the categories "
                         f"{list(categories)}")
    total = sum(counts.values())
    if total == 0:
        raise ValueError("no values to count")
    return np.array([counts[c] / total for c in categories])


def categorical_psi(reference: Iterable, current: Iterable, categories: Sequence,
                    epsilon: float = EPSILON) -> float:
    """PSI of a categorical feature (e.g. the predicted label) over the given categories."""
    expected, actual = category_shares(reference, categories), category_shares(current, categories)
    return psi_from_shares(expected, actual, epsilon)


# ---------------------------------------------------------------------------------------------
# Text features
def simple_tokens(text: str) -> list[str]:
    """Lower-cased words (`ftcourse.text.basic_english`, the tokenizer of chapter 2)."""
    from ftcourse.text import basic_english

    return basic_english(text)


def word_bins(reference_texts: Iterable[str], top_k: int = 50,
              tokenize: Callable[[str], list[str]] = simple_tokens) -> list[str]:
    """The reference's `top_k` most frequent words: the bins of the vocabulary PSI (plus "other")."""
    counts = Counter(t for text in reference_texts for t in tokenize(text))
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]]


def word_shares(texts: Iterable[str], vocabulary: Sequence[str],
                tokenize: Callable[[str], list[str]] = simple_tokens) -> np.ndarray:
    """Shares of the tokens of `texts` that are each word of `vocabulary`, and last, any other word."""
    position = {w: i for i, w in enumerate(vocabulary)}
    counts = np.zeros(len(vocabulary) + 1)
    for text in texts:
        for token in tokenize(text):
            counts[position.get(token, len(vocabulary))] += 1
    if counts.sum() == 0:
        raise ValueError("the texts hold no tokens")
    return counts / counts.sum()


def unseen_rate(reference_texts: Iterable[str], texts: Iterable[str],
                tokenize: Callable[[str], list[str]] = simple_tokens) -> float:
    """Share of the tokens of `texts` that never occur in `reference_texts`."""
    known = {t for text in reference_texts for t in tokenize(text)}
    tokens = [t for text in texts for t in tokenize(text)]
    if not tokens:
        raise ValueError("the texts hold no tokens")
    return sum(t not in known for t in tokens) / len(tokens)


# ---------------------------------------------------------------------------------------------
# The drift check
@dataclass
class Slice:
    """Texts and the model's predictions on them: labels, and the score of each predicted label."""

    texts: list[str]
    labels: list[str]
    scores: list[float]

    def __post_init__(self) -> None:
        if not self.texts:
            raise ValueError("a slice needs at least one text")
        if not len(self.texts) == len(self.labels) == len(self.scores):
            raise ValueError(
                f"a slice needs one label and one score per text: {len(self.texts)} texts, "
                f"{len(self.labels)} labels, {len(self.scores)} scores"
            )

    @classmethod
    def from_predictions(cls, texts: Sequence[str], predictions: Sequence) -> Slice:
        """From `Predictor.predict` results, pipeline dicts ({"label", "score"}) or (label, score) pairs."""
        labels, scores = zip(*(_label_score(p) for p in predictions)) if predictions else ((), ())
        return cls(list(texts), list(labels), [float(s) for s in scores])


@dataclass
class FeatureDrift:
    """One feature's drift: its PSI, an optional test's p-value, and whether it crossed the threshold."""

    feature: str
    psi: float
    p_value: float | None
    threshold: float
    reference: float  # a summary of the feature on each slice, for people to read
    current: float

    @property
    def drifted(self) -> bool:
        return self.psi > self.threshold

    @property
    def level(self) -> str:
        if self.drifted:
            return "shift"
        return "watch" if self.psi > PSI_WATCH else "stable"


@dataclass
class DriftReport:
    """The result of `drift_check`: one `FeatureDrift` per feature."""

    features: dict[str, FeatureDrift] = field(default_factory=dict)

    @property
    def drifted(self) -> list[str]:
        """The names of the features whose PSI is above the threshold."""
        return [name for name, f in self.features.items() if f.drifted]

    def __bool__(self) -> bool:  # truthy when something drifted
        return bool(self.drifted)

    def psi(self) -> dict[str, float]:
        return {name: f.psi for name, f in self.features.items()}

    def to_markdown(self) -> str:
        """A table: feature, reference and current summaries, PSI, p-value, verdict."""
        rows = ["| feature | reference | current | PSI | p-value | verdict |", "|---|---|---|---|---|---|"]
        for f in self.features.values():
            p = "-" if f.p_value is None else f"{f.p_value:.2g}"
            cells = [f.feature, f"{f.reference:.3g}", f"{f.current:.3g}", f"{f.psi:.3f}", p, f.level]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(rows)


FEATURES = {
    "prediction": "share of each predicted label (summary: share of the first label)",
    "confidence": "score of the predicted label (summary: mean)",
    "length": "words per text (summary: mean)",
    "vocabulary": "shares of the reference's most frequent words and of all others (summary: others)",
}


def drift_check(reference: Slice, current: Slice, labels: Sequence[str], *, threshold: float = PSI_ALERT,
                bins: int = 5, top_k: int = 50,
                tokenize: Callable[[str], list[str]] = simple_tokens) -> DriftReport:
    """Compare `current` with `reference` on the four `FEATURES`; flag those whose PSI > `threshold`.

    `bins` quantile bins for the numeric features: few bins keep PSI's sampling noise low on
    slices of a few hundred texts (two samples of the same distribution give about
    (bins - 1) * (1/n_reference + 1/n_current) on average).
    """
    report = DriftReport()
    labels = list(labels)

    def add(name: str, psi: float, p: float | None, ref: float, cur: float) -> None:
        report.features[name] = FeatureDrift(name, psi, p, threshold, ref, cur)

    ref_shares = category_shares(reference.labels, labels)
    cur_shares = category_shares(current.labels, labels)
    ref_counts = np.array([reference.labels.count(c) for c in labels])
    cur_counts = np.array([current.labels.count(c) for c in labels])
    add("prediction", psi_from_shares(ref_shares, cur_shares), _chi2_p(ref_counts, cur_counts),
        float(ref_shares[0]), float(cur_shares[0]))

    add("confidence", population_stability_index(reference.scores, current.scores, bins),
        _ks_p(reference.scores, current.scores), float(np.mean(reference.scores)),
        float(np.mean(current.scores)))

    ref_len = [len(tokenize(t)) for t in reference.texts]
    cur_len = [len(tokenize(t)) for t in current.texts]
    add("length", population_stability_index(ref_len, cur_len, bins), _ks_p(ref_len, cur_len),
        float(np.mean(ref_len)), float(np.mean(cur_len)))

    vocabulary = word_bins(reference.texts, top_k, tokenize)
    ref_words = word_shares(reference.texts, vocabulary, tokenize)
    cur_words = word_shares(current.texts, vocabulary, tokenize)
    add("vocabulary", psi_from_shares(ref_words, cur_words), None, float(ref_words[-1]), float(cur_words[-1]))
    return report


def _ks_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    try:
        from scipy.stats import ks_2samp
    except ImportError:
        return None
    return float(ks_2samp(a, b).pvalue)


def _chi2_p(a: np.ndarray, b: np.ndarray) -> float | None:
    try:
        from scipy.stats import chi2_contingency
    except ImportError:
        return None
    table = np.vstack([a, b])
    table = table[:, table.sum(axis=0) > 0]  # a label neither slice predicted carries no information
    if table.shape[1] < 2:
        return 1.0
    return float(chi2_contingency(table).pvalue)


# ---------------------------------------------------------------------------------------------
# Canaries
@dataclass(frozen=True)
class Canary:
    """A fixed input and the label it must get, with a name that says what it guards."""

    name: str
    text: str
    expected: str


@dataclass(frozen=True)
class CanaryResult:
    canary: Canary
    label: str
    score: float
    min_score: float

    @property
    def passed(self) -> bool:
        return self.label == self.canary.expected and self.score >= self.min_score

    def describe(self) -> str:
        c = self.canary
        if self.passed:
            return f"{c.name}: ok ({self.label}, {self.score:.2f})"
        why = (f"got {self.label!r}, expected {c.expected!r}" if self.label != c.expected
               else f"score {self.score:.2f} below {self.min_score:.2f}")
        return f"{c.name}: FAILED, {why} for {c.text!r}"


class CanaryFailure(AssertionError):
    """Raised by `CanaryReport.raise_for_failures`; the message names each failed canary."""


@dataclass
class CanaryReport:
    results: list[CanaryResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[str]:
        """The names of the canaries that failed."""
        return [r.canary.name for r in self.results if not r.passed]

    def __str__(self) -> str:
        head = f"{len(self.results) - len(self.failures)}/{len(self.results)} canaries passed"
        return "\n".join([head, *(f"  {r.describe()}" for r in self.results)])

    def raise_for_failures(self) -> None:
        if self.failures:
            lines = [r.describe() for r in self.results if not r.passed]
            raise CanaryFailure(f"{len(lines)} canary(ies) failed: " + "; ".join(lines))


def run_canaries(predict: Callable[[list[str]], Sequence], canaries: Sequence[Canary],
                 min_score: float = 0.0) -> CanaryReport:
    """Run `canaries` through `predict` (a list of texts in, one prediction per text out) in one call.

    A prediction may be a `ftcourse.serve.Prediction`, a pipeline dict or a (label, score) pair;
    a canary passes when its label is the expected one with a score of at least `min_score`.
    """
    if not canaries:
        raise ValueError("give at least one canary")
    names = [c.name for c in canaries]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"canary names must be unique so that a failure names one input: {duplicated}")
    predictions = list(predict([c.text for c in canaries]))
    if len(predictions) != len(canaries):
        raise ValueError(f"predict returned {len(predictions)} predictions for {len(canaries)} canaries")
    results = []
    for canary, prediction in zip(canaries, predictions):
        label, score = _label_score(prediction)
        results.append(CanaryResult(canary, label, score, min_score))
    return CanaryReport(results)


def _label_score(prediction) -> tuple[str, float]:
    if isinstance(prediction, dict):
        return str(prediction["label"]), float(prediction["score"])
    if isinstance(prediction, (tuple, list)) and len(prediction) == 2:
        return str(prediction[0]), float(prediction[1])
    if hasattr(prediction, "label") and hasattr(prediction, "score"):
        return str(prediction.label), float(prediction.score)
    raise TypeError(
        f"cannot read a label and a score from {type(prediction).__name__}: give Prediction objects, "
        "dicts with 'label' and 'score', or (label, score) pairs"
    )


__all__ = [
    "EPSILON",
    "FEATURES",
    "PSI_ALERT",
    "PSI_WATCH",
    "Canary",
    "CanaryFailure",
    "CanaryReport",
    "CanaryResult",
    "DriftReport",
    "FeatureDrift",
    "Slice",
    "categorical_psi",
    "category_shares",
    "drift_check",
    "histogram",
    "population_stability_index",
    "psi_from_counts",
    "psi_from_shares",
    "quantile_edges",
    "run_canaries",
    "unseen_rate",
    "word_bins",
    "word_shares",
]
