"""Yelp-like restaurant reviews with 1-5 stars for the ci profile (chapters 08, 15): the more
stars, the more of a review's sentences praise; a few labels are off by design.
"""

from __future__ import annotations

import random

from ftcourse.corpora.common import NEGATIVE, POSITIVE

YELP_SIZES = (1000, 200)  # train, test
_DISHES = ("pizza", "burger", "pasta", "soup", "salad", "steak", "curry", "tacos", "sushi", "coffee",
           "dessert", "fries", "noodles", "sandwich", "breakfast")
_PLACES = ("restaurant", "diner", "cafe", "bistro", "food truck", "bakery", "pub", "noodle bar")
_YELP_GOOD = ("The {d} was {p}.", "Our server was {p} and quick.", "The staff were {p}.",
              "The {d} tasted {p}, I would order it again.", "Prices were fair and the room was {p}.")
_YELP_BAD = ("The {d} was {n}.", "Our server was {n} and slow.", "The staff were {n}.",
             "The {d} tasted {n}, I would not order it again.", "Prices were high and the room was {n}.")


def generate_yelp(n: int, seed: int = 0, noise: float = 0.05) -> list[tuple[int, str]]:
    """`n` Yelp-like reviews as (stars - 1, text), 0..4; more stars, more praise (ci profile)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"yelp:{seed}")
    items = []
    for k in range(n):
        stars = k % 5
        sentences = [f"We went to this {rng.choice(_PLACES)} for {rng.choice(_DISHES)}."]
        for j in range(4):
            template = rng.choice(_YELP_GOOD if j < stars else _YELP_BAD)
            sentences.append(template.format(d=rng.choice(_DISHES), p=rng.choice(POSITIVE),
                                             n=rng.choice(NEGATIVE)))
        body = sentences[1:]
        rng.shuffle(body)
        label = stars if rng.random() >= noise else rng.choice([s for s in range(5) if s != stars])
        items.append((label, " ".join(sentences[:1] + body)))
    rng.shuffle(items)
    return items
