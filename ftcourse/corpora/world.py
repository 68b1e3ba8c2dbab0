"""A small generated world for the `ci` stand-ins to learn before a chapter uses them: plain
statements of the facts chapter 11's questions ask about (capitals, opposites, legs, sums,
plurals), written in a few phrasings. Pre-training on them is what stands in, on `ci`, for the web
text a hub model has read (`ftcourse.standins`); a page can check the answers against the tables.
Two more kinds give the causal stand-ins the text their pages prompt with: short stories
("Once upon a time ...", chapter 06) and short opinions of films ("This movie was really ...",
chapter 07).
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


STORY_PEOPLE = ("farmer", "doctor", "teacher", "soldier", "sailor", "engineer", "scientist",
                "musician", "detective")
STORY_PLACES = ("a small town", "a big city", "the market", "the station", "the river")
STORY_EVENTS = ("met an old friend", "lost a map", "found a letter", "heard strange music",
                "saw a ship on the river")


def _story(rng: random.Random) -> str:
    person = rng.choice(STORY_PEOPLE)
    home, away = rng.sample(STORY_PLACES, 2)
    young = rng.choice(["young", "old"])
    return (f"Once upon a time there was a {young} {person} who lived in {home}. "
            f"One day the {person} went to {away} and {rng.choice(STORY_EVENTS)}.")


FILM_GOOD = ("good", "funny", "moving", "exciting", "beautiful")
FILM_BAD = ("bad", "boring", "slow", "silly", "long")
FILM_PARTS = ("story", "acting", "music", "ending", "cast")


def _review(rng: random.Random) -> str:
    good = rng.random() < 0.5
    words = FILM_GOOD if good else FILM_BAD
    first, second = rng.sample(words, 2)
    part, other = rng.sample(FILM_PARTS, 2)
    verdict = "I loved every minute of it." if good else "I would not watch it again."
    return (f"This movie was really {first}. The {part} was {second} and the {other} was "
            f"{rng.choice(words)}. {verdict}")


FACT_KINDS = ("capital", "opposite", "legs", "add", "plural")
KINDS = {"capital": _capital, "opposite": _opposite, "legs": _legs, "add": _add, "plural": _plural,
         "story": _story, "review": _review}


def world_sentences(n: int, seed: int = 0, kinds: tuple[str, ...] = FACT_KINDS) -> list[str]:
    """`n` true statements about the small world, cycling through `kinds` (default: the facts,
    `FACT_KINDS`; "story" and "review" give short stories and film opinions). The ci stand-ins'
    pre-training text (chapter 06)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise ValueError(f"unknown kind(s) {unknown or kinds}; the kinds are {sorted(KINDS)}")
    rng = random.Random(f"world:{seed}")
    return [KINDS[kinds[k % len(kinds)]](rng) for k in range(n)]
