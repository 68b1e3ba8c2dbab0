"""WikiText-2-like rows for the ci profile (chapter 07): generated news and reviews laid out as
WikiText's raw files are, with headings (" = Title = "), paragraphs and blank rows.
"""

from __future__ import annotations

import random

from ftcourse.corpora.common import FIRST_NAMES, LAST_NAMES
from ftcourse.corpora.news import generate_news
from ftcourse.corpora.reviews import generate_reviews


def generate_lm_corpus(n: int, seed: int = 0) -> list[str]:
    """`n` rows shaped like WikiText (headings, paragraphs, blank rows) from generated text: the
    ci profile's stand-in for WikiText-2 (chapter 07)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"lm:{seed}")
    paragraphs = [text for _, text in generate_news(n, seed)]
    paragraphs += [text.replace("<br />", " ") for _, text in generate_reviews(n // 2, seed)]
    rng.shuffle(paragraphs)
    rows: list[str] = []
    while len(rows) < n:
        title = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        rows += ["", f" = {title} = \n", ""]
        for section in rng.sample(("Early life", "Career", "Reception", "Legacy", "History"), 2):
            rows += [f" = = {section} = = \n", ""]
            for _ in range(rng.randint(1, 3)):
                rows += [f" {paragraphs.pop()} \n", ""]
    return rows[:n]
