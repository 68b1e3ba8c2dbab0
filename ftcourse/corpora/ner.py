"""CoNLL-2003-like sentences for the ci profile (chapter 10): news-like templates whose slots hold
PER, ORG, LOC and MISC entities, a quarter of them names never seen before, with IOB2 tags.
"""

from __future__ import annotations

import random

from ftcourse.corpora.common import COMPANIES, FIRST_NAMES, LAST_NAMES, PLACES

_CITIES = ("New York", "Buenos Aires", "Hong Kong", "Los Angeles", "Sao Paulo", "New Delhi",
           "Cape Town", "Rio de Janeiro", "London", "Paris", "Tokyo", "Nairobi", "Berlin", "Lima")
_NATIONS = ("French", "German", "Brazilian", "Japanese", "Kenyan", "Mexican", "Indian", "Italian",
            "Canadian", "Egyptian", "Turkish", "Chilean")
_EVENTS = ("World Cup", "Olympic Games", "Tour de France", "Champions League", "Davis Cup", "Nobel Prize")
_ORG_TAILS = ("Corp", "Group", "Holdings", "Bank", "Airlines", "Motors", "United", "Inc")
_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "sa", "li", "do", "mar", "en", "zu", "bel", "cor")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Plain words are O; {PER} {ORG} {LOC} {MISC} are entities; {DAY} is capitalised but O.
_TEMPLATES = (
    "{PER} , chief executive of {ORG} , said on {DAY} that profits rose .",
    "{ORG} shares fell 3 percent in {LOC} after the announcement .",
    "{PER} scored twice as {ORG} beat {ORG} 2-1 in {LOC} .",
    "The {MISC} government said it would send aid to {LOC} .",
    "{PER} won the {MISC} on {DAY} .",
    "Police in {LOC} arrested {PER} , a {MISC} citizen , on {DAY} .",
    "{ORG} will open a new factory near {LOC} next year .",
    "Talks between {PER} and {PER} ended without agreement in {LOC} .",
    "{LOC} 's foreign minister {PER} arrived in {LOC} on {DAY} .",
    "Analysts at {ORG} expect the {MISC} economy to grow .",
    "{PER} told reporters that the deal with {ORG} was close .",
    "Shares closed higher on {DAY} after a quiet session .",
    "The match was delayed by rain for two hours .",
    "Rebels attacked a convoy north of {LOC} , officials said .",
    "{MISC} officials met {PER} of {ORG} in {LOC} .",
    "Stocks in {LOC} rose on {DAY} as {ORG} reported strong sales .",
)


def _new_name(rng: random.Random) -> str:
    # Names never seen in training: the model must use context and capitals, not memory.
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _entity(kind: str, rng: random.Random) -> list[str]:
    novel = rng.random() < 0.25
    if kind == "PER":
        last = _new_name(rng) if novel else rng.choice(LAST_NAMES)
        return [rng.choice(FIRST_NAMES), last] if rng.random() < 0.7 else [last]
    if kind == "ORG":
        head = _new_name(rng) if novel else rng.choice(COMPANIES)
        roll = rng.random()
        if roll < 0.4:
            return [head]
        if roll < 0.8:
            return [head, rng.choice(_ORG_TAILS)]
        return ["Bank", "of", rng.choice(PLACES)]
    if kind == "LOC":
        if novel:
            return [_new_name(rng)]
        return (rng.choice(_CITIES) if rng.random() < 0.5 else rng.choice(PLACES)).split()
    return rng.choice(_NATIONS if rng.random() < 0.6 else _EVENTS).split()


def generate_ner(n: int, seed: int = 0) -> list[dict[str, list[str]]]:
    """`n` news-like sentences with PER, ORG, LOC and MISC entities and IOB2 tags: the ci
    profile's stand-in for CoNLL-2003 (chapter 10)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"ner:{seed}")
    sentences = []
    for _ in range(n):
        tokens: list[str] = []
        tags: list[str] = []
        for word in rng.choice(_TEMPLATES).split():
            if word == "{DAY}":
                tokens.append(rng.choice(_DAYS))
                tags.append("O")
            elif word.startswith("{"):
                kind = word[1:-1]
                entity = _entity(kind, rng)
                tokens += entity
                tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(entity) - 1)
            else:
                tokens.append(word)
                tags.append("O")
        sentences.append({"tokens": tokens, "tags": tags})
    return sentences
