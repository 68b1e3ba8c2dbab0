"""A small generated world for the `ci` stand-ins to learn before a chapter uses them: plain
statements of the facts chapter 11's questions ask about (capitals, opposites, legs, sums,
plurals), written in a few phrasings. Pre-training on them is what stands in, on `ci`, for the web
text a hub model has read (`ftcourse.standins`); a page can check the answers against the tables.
"""

from __future__ import annotations

import random

from ftcourse.corpora.instructions import CAPITALS, LEGS, NUMBER_WORDS, OPPOSITES, WORDS


def _capital(rng: random.Random) -> str:
    country = rng.choice(sorted(CAPITALS))
    return rng.choice(["The capital of {c} is {k}.", "{k} is the capital of {c}."]).format(
        c=country, k=CAPITALS[country])


def _opposite(rng: random.Random) -> str:
    word = rng.choice(sorted(OPPOSITES))
    return f"The opposite of {word} is {OPPOSITES[word]}."


def _legs(rng: random.Random) -> str:
    animal = rng.choice(sorted(LEGS))
    return f"A {animal} has {NUMBER_WORDS[LEGS[animal]]} legs."


def _add(rng: random.Random) -> str:
    a, b = rng.randint(0, 9), rng.randint(0, 9)
    return f"{NUMBER_WORDS[a].capitalize()} plus {NUMBER_WORDS[b]} is {NUMBER_WORDS[a + b]}."


def _plural(rng: random.Random) -> str:
    word = rng.choice(WORDS)
    return f"The plural of {word} is {word}s."


KINDS = {"capital": _capital, "opposite": _opposite, "legs": _legs, "add": _add, "plural": _plural}


def world_sentences(n: int, seed: int = 0, kinds: tuple[str, ...] = tuple(KINDS)) -> list[str]:
    """`n` true statements about the small world, cycling through `kinds` (default: all of
    capital, opposite, legs, add, plural). The ci stand-ins' pre-training text (chapter 06)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise ValueError(f"unknown kind(s) {unknown or kinds}; the kinds are {sorted(KINDS)}")
    rng = random.Random(f"world:{seed}")
    return [KINDS[kinds[k % len(kinds)]](rng) for k in range(n)]
