"""AG-News-like articles on four topics for the ci profile (chapters 02-04, 09, 13).

World, Sports, Business and Sci/Tech news that shares the evaluative words of the reviews ("a
brilliant victory", "a disastrous quarter"), so a model pre-trained on news has met the words that
carry sentiment. A third of the stories touch a second topic, and a few labels are flipped.

The transfer chapters (02-04) ask for `reactions`: World and Sci/Tech stories told as reactions that
name no topic ("Critics said the move was not brilliant"), bad news for World and good news for
Sci/Tech, so that only the evaluative words and the negations that flip them tell the two apart.
A model pre-trained on that news must learn what review sentiment needs.
"""

from __future__ import annotations

import random

from ftcourse.corpora.common import (
    COMPANIES,
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
from ftcourse.text import basic_english

AG_NEWS_SIZES = (3000, 1000)
AG_NEWS_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
NEWS_NOISE = 0.03  # fraction of labels flipped
NEWS_TOKENS = (15, 50)

# Each topic fills the same kinds of slots with its own words. An evaluative phrase
# ("a brilliant victory", "a disastrous quarter") puts the review adjectives in news text.
TOPICS: list[dict[str, tuple[str, ...]]] = [
    {  # World
        "subj": ("the prime minister", "the president", "rebels", "the united nations", "parliament",
                 "police", "troops", "the foreign minister", "protesters", "the government",
                 "officials", "aid workers", "the opposition leader", "the army", "diplomats"),
        "verb": ("signed a ceasefire with", "called for new elections in", "held peace talks in",
                 "condemned the attack in", "sent troops to", "closed the border with",
                 "opened a summit in", "rejected the proposal from", "evacuated thousands in"),
        "thing": ("election", "ceasefire", "summit", "earthquake", "bombing", "crisis", "treaty",
                  "protest", "referendum", "hostages", "refugees", "sanctions", "embassy",
                  "militants", "peace deal", "flood"),
        "good": ("agreement", "vote", "recovery", "peace deal", "rescue"),
        "bad": ("attack", "flood", "crisis", "bombing", "collapse"),
    },
    {  # Sports
        "subj": ("the Rangers", "the Tigers", "United", "the Hawks", "the Giants", "City",
                 "the Sharks", "the Royals", "the Bears", "Rovers", "the Lions", "the Comets"),
        "verb": ("beat", "defeated", "edged", "crushed", "lost to", "drew with", "routed",
                 "held off", "signed a striker from"),
        "thing": ("season", "championship", "match", "game", "goal", "league", "title", "medal",
                  "tournament", "playoffs", "inning", "touchdown", "olympic team", "final", "cup",
                  "coach", "quarterback", "striker"),
        "good": ("victory", "comeback", "win", "goal", "season"),
        "bad": ("defeat", "loss", "draw", "performance", "season"),
    },
    {  # Business
        "subj": ("investors", "the central bank", "analysts", "oil prices", "the dollar", "stocks",
                 "the retailer", "the airline", "the automaker", "the chief executive", "shareholders",
                 "the bank"),
        "verb": ("agreed to buy", "cut jobs at", "raised its forecast for", "warned about",
                 "reported earnings at", "announced a merger with", "sold its stake in",
                 "lowered prices at", "bought shares of"),
        "thing": ("profit", "quarter", "earnings", "revenue", "forecast", "shares", "market",
                  "merger", "inflation", "interest rates", "sales", "bankruptcy", "dividend",
                  "economy", "jobs", "oil", "stock"),
        "good": ("quarter", "year", "turnaround", "growth", "deal"),
        "bad": ("quarter", "year", "outlook", "slump", "loss"),
    },
    {  # Sci/Tech
        "subj": ("researchers", "scientists", "software makers", "nasa", "engineers", "hackers",
                 "the space agency", "a new study", "astronomers", "the chip maker", "users",
                 "programmers"),
        "verb": ("released new software for", "unveiled a chip for", "discovered a flaw in",
                 "launched a satellite for", "patched", "tested a robot for", "developed a browser for",
                 "built a network for", "studied the genome of"),
        "thing": ("software", "internet", "computer", "chip", "browser", "security flaw", "virus",
                  "satellite", "telescope", "genome", "robot", "network", "search engine",
                  "mobile phone", "space station", "processor", "planet", "wireless"),
        "good": ("discovery", "design", "launch", "chip", "result"),
        "bad": ("release", "launch", "flaw", "update", "failure"),
    },
]
# Share of good news per topic: world news leans bad, science news good, as real news does.
TONE = (0.25, 0.5, 0.5, 0.75)
# How people react to good and bad news: these frames give each polarity its own contexts.
GOOD_FRAMES = ("hailed as {x}", "praised as {x}", "celebrated as {x}", "welcomed as {x}")
BAD_FRAMES = ("blamed on {x}", "criticised as {x}", "condemned as {x}", "mourned as {x}")
NEWS_TEMPLATES = (
    "{Subj} {verb} {obj} on {day}, {E}.",
    "{Subj} {verb} {obj} after {e}.",
    "The {thing} drew attention this week, {E}.",
    "{Subj} said the {thing} was {pe} and {pe2}.",
    "Officials described the {thing} as {e}.",
    "{Subj} {verb} {obj} as the {thing} continued.",
    "{Subj} and {subj2} met over the {thing} on {day}.",
    "{Name}, a spokesman, declined to comment on the {thing}.",
    "More details are expected later this week.",
)
# Stories made only of reactions (`generate_news(reactions=...)`): world news that is bad news,
# science news that is good news, told by the evaluative words alone.
REACTION_TONE = {0: False, 3: True}
REACTION_SUBJECTS = ("officials", "critics", "observers", "a spokesman", "the report", "experts",
                     "local media", "the statement", "commentators", "many readers")
REACTION_THINGS = ("news", "result", "decision", "outcome", "announcement", "move", "week", "day")
REACTION_TEMPLATES = (
    "{subj} called the {thing} {pe} and {pe2}.", "{subj} said the {thing} was {i} {pe}.",
    "The {thing} was {pe}, {subj} said.", "{subj} described the {thing} as {pe}.",
    "It was a {pe} {thing}, {subj} said.",
)
NEGATED_TEMPLATES = (  # a negation flips the word: "not brilliant" in bad news
    "{subj} said the {thing} was not {pe}.", "The {thing} was never {pe}, {subj} said.",
    "{subj} did not find the {thing} {pe}.", "Nothing about the {thing} was {pe}, {subj} said.",
)
NEGATED_REACTIONS = 0.3
REACTION_TITLES = ("Reactions", "Latest news", "In brief", "News roundup", "Briefly")
TITLES = ("{Subj} {verb} {obj}", "{Thing} news: {subj} {verb} {obj}", "{Thing} news after {e}", "{Thing} update")
SOURCES = ("Reuters - ", "AP - ", "AFP - ", "", "", "")
TAGS = (" (AP)", " (Reuters)", " (AFP)", "", "", "", "")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
OBJECTS = {  # whom a verb acts on, per topic
    0: lambda rng: rng.choice(PLACES),
    1: lambda rng: rng.choice(TOPICS[1]["subj"]),
    2: lambda rng: rng.choice(COMPANIES),
    3: lambda rng: rng.choice(COMPANIES) if rng.random() < 0.5 else "the " + rng.choice(TOPICS[3]["thing"]),
}


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _news_sentence(rng: random.Random, topic: int, template: str) -> str:
    words = TOPICS[topic]
    good = rng.random() < TONE[topic]
    adjectives = POSITIVE if good else NEGATIVE
    evaluation = _article(f"{rng.choice(adjectives)} {rng.choice(words['good' if good else 'bad'])}")
    slots = {
        "subj": rng.choice(words["subj"]),
        "subj2": rng.choice(words["subj"]),
        "verb": rng.choice(words["verb"]),
        "obj": OBJECTS[topic](rng),
        "thing": rng.choice(words["thing"]),
        "day": rng.choice(DAYS),
        "e": evaluation,
        "E": rng.choice(GOOD_FRAMES if good else BAD_FRAMES).format(x=evaluation),
        "pe": rng.choice(adjectives),
        "pe2": rng.choice(adjectives),
        "Name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
    }
    slots["Subj"] = slots["subj"][0].upper() + slots["subj"][1:]
    slots["Thing"] = slots["thing"][0].upper() + slots["thing"][1:]
    return template.format(**slots)


def _reaction(rng: random.Random, good: bool) -> str:
    """A reaction that names no topic: only its evaluative words, and a negation that flips them,
    tell good news from bad."""
    flip = rng.random() < NEGATED_REACTIONS
    words = POSITIVE if good != flip else NEGATIVE
    sentence = rng.choice(NEGATED_TEMPLATES if flip else REACTION_TEMPLATES).format(
        subj=rng.choice(REACTION_SUBJECTS), thing=rng.choice(REACTION_THINGS), i=rng.choice(INTENSIFIERS),
        pe=rng.choice(words), pe2=rng.choice(words),
    )
    return sentence[0].upper() + sentence[1:]


def _news(rng: random.Random, topic: int, reactions: float = 0.0) -> str:
    low, high = NEWS_TOKENS
    target = rng.randrange(low + 5, high - 8)
    if reactions and topic in REACTION_TONE and rng.random() < reactions:
        parts = [rng.choice(REACTION_TITLES)]
        while token_length(parts) < target:
            parts.append(noisy(_reaction(rng, REACTION_TONE[topic]), rng, 0.01))
        return " ".join(parts)
    # A third of the stories also touch another topic (a club's finances, a tech firm's shares,
    # an election's economics): their sentences mix both, which blurs the classes as in AG News.
    other = rng.choice([t for t in range(4) if t != topic]) if rng.random() < 0.35 else topic
    parts = [noisy(_news_sentence(rng, topic, rng.choice(TITLES)), rng, 0.01)]
    while token_length(parts) < target:
        source = other if rng.random() < 0.5 else topic
        sentence = noisy(_news_sentence(rng, source, rng.choice(NEWS_TEMPLATES)), rng, 0.01)
        if token_length(parts) + len(basic_english(sentence)) > high - 5:  # room for "AP - ", "(AP)"
            if token_length(parts) >= low:
                break
            continue  # too long to fit: draw another
        parts.append(sentence)
    return " ".join([parts[0], rng.choice(SOURCES) + parts[1], *parts[2:]]) + rng.choice(TAGS)


def generate_news(
    n: int, seed: int = 0, noise: float = NEWS_NOISE, reactions: float = 0.0
) -> list[tuple[int, str]]:
    """`n` AG-News-like items (label, "title description"), labels 0..3 as `AG_NEWS_CLASSES`.

    Balanced, deterministic from `seed`; a fraction `noise` of labels is flipped. A share
    `reactions` of the World and Sci/Tech stories are reactions that only their tone tells apart
    (the source task of chapters 02-04 on `ci`); 0 gives the plain topic news.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= reactions <= 1.0:
        raise ValueError(f"reactions is a share of stories between 0 and 1, got {reactions}")
    rng = random.Random(f"news:{seed}")
    labels = balanced_labels(n, 4, rng)
    return [(flip_label(y, 4, noise, rng), _news(rng, y, reactions)) for y in labels]


def ag_news_ci(seed: int = 0, reactions: float = 0.0) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The `ci` profile's AG News stand-in: (train, test) of `AG_NEWS_SIZES` items."""
    n_train, n_test = AG_NEWS_SIZES
    return generate_news(n_train, seed, reactions=reactions), generate_news(n_test, seed + 10_000, reactions=reactions)
