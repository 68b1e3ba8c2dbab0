"""What the generated corpora share: the word lists several corpora draw from (the evaluative
words reviews, news and Yelp reviews have in common; names, companies, places) and the helpers
that add noise, count tokens and balance or flip labels.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Sequence

from ftcourse.text import basic_english

# Shared vocabulary: evaluative words appear in both reviews and news.
POSITIVE = (
    "brilliant wonderful superb excellent great moving gripping delightful charming clever "
    "beautiful stunning powerful memorable touching fantastic impressive engaging outstanding "
    "remarkable terrific convincing inspired perfect good fun entertaining smart solid fresh"
).split()
NEGATIVE = (
    "awful terrible boring dull tedious dreadful weak stupid predictable clumsy lifeless bland "
    "painful pointless disastrous horrible mediocre forgettable silly lazy annoying poor messy "
    "flat bad confusing cheap ridiculous awkward unbearable"
).split()
INTENSIFIERS = "really truly very quite simply absolutely rather pretty so genuinely".split()
FIRST_NAMES = (
    "John Mary Peter Anna David Laura James Susan Robert Linda Michael Karen Thomas Nancy Paul "
    "Helen Mark Julia Steven Clara Daniel Rosa Victor Nina Oscar Elena Hugo Maya Felix Irene"
).split()
LAST_NAMES = (
    "Smith Walker Brown Carter Lopez Miller Turner Fischer Rossi Novak Keller Hayes Moreau "
    "Silva Larsen Baker Young Ward Kovacs Grant Quinn Duval Becker Stone Russo Hale Ortiz"
).split()
COMPANIES = "Acme Globex Initech Northwind Contoso Helix Orbital Sterling Vandelay Umbra Zenith Polaris".split()
PLACES = (
    "Iraq Sudan Kenya France Brazil India Japan Ukraine Peru Egypt Nepal Chile Indonesia "
    "Pakistan Germany Haiti Mexico Canada Turkey Nigeria"
).split()


def typo(word: str) -> str:
    """A fixed misspelling of `word` (people misspell the same words the same way)."""
    if len(word) < 5 or not word.isalpha():
        return word
    at = 1 + zlib.crc32(word.encode()) % (len(word) - 3)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def noisy(sentence: str, rng: random.Random, typo_rate: float) -> str:
    """`sentence` with a share `typo_rate` of its words misspelt and, now and then, "!!!" or "..." for its full stop."""
    words = sentence.split(" ")
    for k, word in enumerate(words):
        if rng.random() < typo_rate:
            words[k] = typo(word)
    sentence = " ".join(words)
    if sentence.endswith(".") and rng.random() < 0.05:
        sentence = sentence[:-1] + rng.choice(("...", "!!!", "!"))
    return sentence


def token_length(sentences: Sequence[str]) -> int:
    """How many basic_english tokens the sentences hold together."""
    return sum(len(basic_english(s)) for s in sentences)


def balanced_labels(n: int, num_classes: int, rng: random.Random) -> list[int]:
    """`n` labels, as many of each class as `n` allows, in random order."""
    labels = [k % num_classes for k in range(n)]
    rng.shuffle(labels)
    return labels


def flip_label(label: int, num_classes: int, rate: float, rng: random.Random) -> int:
    """`label`, or with probability `rate` another class drawn at random (real labels are noisy)."""
    if rng.random() >= rate:
        return label
    return rng.choice([c for c in range(num_classes) if c != label])


def label_counts(items: Sequence[tuple[int, str]]) -> dict[int, int]:
    """How many items each label has (to check balance)."""
    return dict(sorted(Counter(label for label, _ in items).items()))
