"""IMDB-like movie reviews for the ci profile (chapters 02-05, 06, 15).

Sentiment carried by evaluative words, negation that flips them ("not good", "never boring"),
mixed reviews whose final verdict decides, filler, typos and `<br />` tags as in IMDB. A few labels
are flipped on purpose: a model should reach 80-95%, not 100%.
"""

from __future__ import annotations

import random

from ftcourse.corpora.common import (
    FIRST_NAMES,
    INTENSIFIERS,
    LAST_NAMES,
    NEGATIVE,
    PLACES,
    POSITIVE,
    balanced_labels,
    flip_label,
    noisy,
    token_length,
)

IMDB_SIZES = (1400, 1000)  # train, test
IMDB_CLASSES = ["negative review", "positive review"]
REVIEW_NOISE = 0.03  # fraction of review labels flipped
REVIEW_TOKENS = (20, 150)

GENRES = (
    "thriller", "comedy", "drama", "horror film", "western", "romance", "documentary",
    "science fiction film", "war film", "sports drama", "musical", "crime story", "family film",
    "animated feature", "mystery", "period piece",
)
ASPECTS = (
    "acting", "plot", "script", "dialogue", "direction", "soundtrack", "cinematography", "ending",
    "pacing", "cast", "story", "score", "editing", "lead performance", "special effects", "humour",
    "photography", "characters", "villain", "final act", "opening scene", "twist",
)
PEOPLE = (
    "a young teacher", "a retired detective", "a struggling musician", "a lonely farmer",
    "a small town doctor", "a journalist", "a soldier", "a scientist", "a football coach",
    "a bank clerk", "a boxer", "two brothers", "a single mother", "a group of students",
    "a diplomat", "an engineer", "an old sailor", "a reporter",
)
EVENTS = (
    "loses everything", "falls in love", "returns home after many years", "uncovers a conspiracy",
    "tries to save the family business", "is sent to a war zone", "trains for the championship",
    "moves to a new city", "starts a tech company", "fights a corrupt government",
    "searches for a missing sister", "joins a space mission", "inherits an old hotel",
    "runs for election", "survives a flood",
)
SETTINGS = (
    "a small village", "a busy newsroom", "a failing bank", "a football club", "an oil town",
    "a research lab", "a refugee camp", "a space station", "a boxing gym", "the stock market",
    "a hospital", "a border town", "a software company", "the olympic games",
)
POS_LIKES = ("I loved", "I really enjoyed", "I was impressed by", "I was moved by", "I adored", "I admired")
NEG_LIKES = ("I hated", "I could not stand", "I was bored by", "I was annoyed by", "I disliked", "I was let down by")
POS_VERDICTS = (
    "Highly recommended.", "A must see.", "One of the best films of the year.", "Worth every minute.",
    "I would happily watch it again.", "Go and see it.", "A real gem.", "A small masterpiece.",
    "You will not be disappointed.", "I was never bored for a second.", "Ten out of ten.",
)
NEG_VERDICTS = (
    "Avoid it.", "A complete waste of time.", "One of the worst films I have ever seen.",
    "Save your money.", "I want those two hours back.", "Skip this one.", "A real disappointment.",
    "I would not recommend it to anyone.", "I did not enjoy a single minute.", "Two out of ten.",
)
OPENINGS = (
    "I saw this {genre} {when}.", "{title} is a {genre} directed by {name}.",
    "I rented this {genre} because {reason}.", "This is the {nth} {genre} by {name} that I have seen.",
    "I went into this {genre} knowing nothing about it.", "{title} tells the story of {person}.",
    "I watched {title} {when}.",
)
WHENS = (
    "last night", "on a long flight", "at a festival", "with my family", "on television",
    "at the cinema", "on a rainy sunday", "years ago",
)
REASONS = (
    "a friend told me to", "I like the lead actor", "the cover looked interesting",
    "I had read the book", "it was on sale", "my sister recommended it",
)
FILLERS = (
    "The story follows {person} who {event}.", "Most of it takes place in {setting}.",
    "{name} plays {person}.", "The film runs about {minutes} minutes.", "It was shot in {place}.",
    "I watched it with my {relative}.", "It is a film about {setting} and the people in it.",
    "The film was released in {year}.", "There are a few scenes set in {setting}.",
    "The cast includes {name} and {name2}.", "My {relative} had already seen it twice.",
    "Some of the scenes reminded me of an old {genre}.",
)
RELATIVES = ("wife", "husband", "brother", "sister", "parents", "kids", "friends", "roommate")
NTHS = ("first", "second", "third", "fourth", "latest")

# Sentences that carry a polarity; "{a}" is an aspect, "{p}" a positive and "{n}" a negative word.
POS_SENTENCES = (
    "The {a} was {i} {p}.", "The {a} is {p} and {p2}.", "What a {p} {genre}!", "{like} the {a}.",
    "{name} is {p} as {person}.", "The {a} was {p}, {i} {p2}.", "It is a {p} and {p2} film.",
    "I loved how {p} the {a} was.", "A {p} {genre} that I will remember for years.",
    "The {a} is {p}, a real joy to watch.", "Beautifully made, {p} and {p2}.",
    "{cue} the {a} was {p}.", "{cue} it stays {p} and {p2} from start to finish.",
    "It is {p} and {p2}, with a {p3} {a}.", "The {a} shines, {p} in every scene.",
)
NEG_SENTENCES = (
    "The {a} was {i} {n}.", "The {a} is {n} and {n2}.", "What a {n} {genre}!", "{dislike} the {a}.",
    "{name} is {n} as {person}.", "The {a} was {n}, {i} {n2}.", "It is a {n} and {n2} film.",
    "I hated how {n} the {a} was.", "A {n} {genre} that I want to forget.",
    "The {a} is {n}, a real mess to sit through.", "Badly made, {n} and {n2}.",
    "{ncue} the {a} was {n}.", "{ncue} it stays {n} and {n2} from start to finish.",
    "It is {n} and {n2}, with a {n3} {a}.", "The {a} drags, {n} in every scene.",
)
# Words that tell the reader which way a sentence goes, as "sadly" and "thankfully" do.
POS_CUES = ("Thankfully,", "Luckily,", "Happily,", "Best of all,", "To my delight,")
NEG_CUES = ("Sadly,", "Unfortunately,", "Worse still,", "To my dismay,", "Frankly,")
# Negation flips the word it governs: these are positive sentences built from negative words.
NEGATED_POS = (
    "The {a} was never {n}.", "It is not {n} at all.", "Not for one minute was it {n}.",
    "I did not find the {a} {n}.", "Nothing about it felt {n}.", "The {a} is not {i} {n}.",
)
NEGATED_NEG = (
    "The {a} was not {p}.", "I did not find the {a} {p}.", "It never manages to be {p}.",
    "Nothing about the {a} was {p}.", "It was not {i} {p} at all.", "The {a} is never {p}.",
)
CONTRASTS = (  # praise and criticism in one sentence: {y}, the second clause, is what counts
    "The {a} was {x}, but the {a2} was {y}.", "Although the {a} is {x}, the {a2} is {y}.",
    "The {a} was {x}. Still, the {a2} was {y}.",
)


def _fill(template: str, rng: random.Random, **slots: str) -> str:
    values = dict(slots)
    for key, pool in (
        ("p", POSITIVE), ("p2", POSITIVE), ("p3", POSITIVE),
        ("n", NEGATIVE), ("n2", NEGATIVE), ("n3", NEGATIVE), ("i", INTENSIFIERS),
        ("a", ASPECTS), ("a2", ASPECTS), ("genre", GENRES), ("person", PEOPLE), ("event", EVENTS),
        ("setting", SETTINGS), ("relative", RELATIVES), ("place", PLACES), ("when", WHENS),
        ("reason", REASONS), ("nth", NTHS), ("like", POS_LIKES), ("dislike", NEG_LIKES),
        ("cue", POS_CUES), ("ncue", NEG_CUES),
    ):
        if "{" + key + "}" in template and key not in values:
            values[key] = rng.choice(pool)
    if "{name" in template:
        values.setdefault("name", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}")
        values.setdefault("name2", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}")
    if "{title}" in template:
        values["title"] = "The " + rng.choice(
            ("Last", "Silent", "Red", "Long", "Broken", "Hidden", "Golden", "Lost")
        ) + " " + rng.choice(("Road", "Summer", "River", "Game", "Promise", "Station", "Season", "Door"))
    values.setdefault("minutes", str(rng.randrange(80, 170)))
    values.setdefault("year", str(rng.randrange(1960, 2024)))
    sentence = template.format(**values)
    return sentence[0].upper() + sentence[1:]


def _polar_sentence(rng: random.Random, positive: bool, negation_rate: float) -> str:
    if rng.random() < negation_rate:
        return _fill(rng.choice(NEGATED_POS if positive else NEGATED_NEG), rng)
    return _fill(rng.choice(POS_SENTENCES if positive else NEG_SENTENCES), rng)


def _contrast(rng: random.Random, positive: bool) -> str:
    good, bad = rng.choice(POSITIVE), rng.choice(NEGATIVE)
    x, y = (bad, good) if positive else (good, bad)
    return _fill(rng.choice(CONTRASTS), rng, x=x, y=y)


def _review(rng: random.Random, positive: bool) -> str:
    # The length is drawn independently of the label: it must not give the label away.
    low, high = REVIEW_TOKENS
    target = min(high - 12, max(low, int(rng.lognormvariate(4.1, 0.45))))
    kind = rng.choices(("clear", "mixed", "negated"), weights=(0.6, 0.2, 0.2))[0]
    agree = {"clear": 0.95, "mixed": 0.5, "negated": 0.85}[kind]  # share of sentences on the label's side
    negation_rate = {"clear": 0.1, "mixed": 0.15, "negated": 0.5}[kind]
    typo_rate = rng.choice((0.0, 0.0, 0.01, 0.03))
    sentences = [_fill(rng.choice(OPENINGS), rng)]
    while token_length(sentences) < target:
        roll = rng.random()
        if roll < 0.2:
            sentence = _fill(rng.choice(FILLERS), rng)
        elif kind == "mixed" and roll < 0.4:
            sentence = _contrast(rng, positive if rng.random() < 0.6 else not positive)
        else:
            sentence = _polar_sentence(rng, positive if rng.random() < agree else not positive, negation_rate)
        sentences.append(noisy(sentence, rng, typo_rate))
    if kind != "clear" or rng.random() < 0.8:  # mixed reviews always end on a verdict
        verdict = rng.choice(POS_VERDICTS if positive else NEG_VERDICTS)
        if rng.random() < 0.3:
            verdict = "Overall, " + (verdict if verdict.startswith("I ") else verdict[0].lower() + verdict[1:])
        sentences.append(verdict)
    while token_length(sentences) > high:
        sentences.pop(-2)
    breaks = rng.random() < 0.4  # some reviewers separate paragraphs, as IMDB shows them
    text = sentences[0]
    for sentence in sentences[1:]:
        text += (" <br /><br />" if breaks and rng.random() < 0.3 else " ") + sentence
    return text


def generate_reviews(n: int, seed: int = 0, noise: float = REVIEW_NOISE) -> list[tuple[int, str]]:
    """`n` IMDB-like reviews as (label, text), 0 = negative, 1 = positive, balanced classes.

    Deterministic from `seed`. A fraction `noise` of labels is flipped (real labels are noisy too).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"reviews:{seed}")
    labels = balanced_labels(n, 2, rng)
    return [(flip_label(y, 2, noise, rng), _review(rng, bool(y))) for y in labels]


def imdb_ci(seed: int = 0) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The `ci` profile's IMDB stand-in: (train, test) of `IMDB_SIZES` reviews."""
    n_train, n_test = IMDB_SIZES
    return generate_reviews(n_train, seed), generate_reviews(n_test, seed + 10_000)
