"""The `ci` profile's own data: movie reviews, four-topic news and word vectors, generated offline.

Small corpora with real structure, written from templates and word lists: sentiment carried by
evaluative words, negation that flips them ("not good", "never boring"), mixed reviews whose
final verdict decides, filler, typos and `<br />` tags as in IMDB; news on World, Sports,
Business and Sci/Tech that shares the evaluative words ("a brilliant victory", "a disastrous
quarter"), so a model pre-trained on news has met the words that carry sentiment. A few labels are
flipped on purpose: a model should reach 80-95%, not 100%. Word vectors come from the same text
(PPMI of co-occurrences, truncated SVD), in GloVe's file format. Used through `ftcourse.data`
(chapter 02 onwards).
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from ftcourse.text import basic_english

# Part of the cache key of the `ci` vectors (with the text itself): bump on a change of method.
VERSION = 3

IMDB_SIZES = (1400, 1000)  # train, test
AG_NEWS_SIZES = (3000, 1000)
IMDB_CLASSES = ["negative review", "positive review"]
AG_NEWS_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
REVIEW_NOISE = 0.03  # fraction of review labels flipped
NEWS_NOISE = 0.03
REVIEW_TOKENS = (20, 150)
NEWS_TOKENS = (15, 50)

# ---------------------------------------------------------------------------------------------
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

# ---------------------------------------------------------------------------------------------
# Reviews.
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


def _typo(word: str) -> str:
    """A fixed misspelling of `word` (people misspell the same words the same way)."""
    if len(word) < 5 or not word.isalpha():
        return word
    at = 1 + zlib.crc32(word.encode()) % (len(word) - 3)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def _fill(template: str, rng: random.Random, **slots: str) -> str:
    values = dict(slots)
    for key, pool in (
        ("p", POSITIVE), ("p2", POSITIVE), ("p3", POSITIVE), ("n", NEGATIVE), ("n2", NEGATIVE), ("n3", NEGATIVE), ("i", INTENSIFIERS),
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


def _noisy(sentence: str, rng: random.Random, typo_rate: float) -> str:
    words = sentence.split(" ")
    for k, word in enumerate(words):
        if rng.random() < typo_rate:
            words[k] = _typo(word)
    sentence = " ".join(words)
    if sentence.endswith(".") and rng.random() < 0.05:
        sentence = sentence[:-1] + rng.choice(("...", "!!!", "!"))
    return sentence


def _review(rng: random.Random, positive: bool) -> str:
    # The length is drawn independently of the label: it must not give the label away.
    low, high = REVIEW_TOKENS
    target = min(high - 12, max(low, int(rng.lognormvariate(4.1, 0.45))))
    kind = rng.choices(("clear", "mixed", "negated"), weights=(0.6, 0.2, 0.2))[0]
    agree = {"clear": 0.95, "mixed": 0.5, "negated": 0.85}[kind]  # share of sentences on the label's side
    negation_rate = {"clear": 0.1, "mixed": 0.15, "negated": 0.5}[kind]
    typo_rate = rng.choice((0.0, 0.0, 0.01, 0.03))
    sentences = [_fill(rng.choice(OPENINGS), rng)]
    while _length(sentences) < target:
        roll = rng.random()
        if roll < 0.2:
            sentence = _fill(rng.choice(FILLERS), rng)
        elif kind == "mixed" and roll < 0.4:
            sentence = _contrast(rng, positive if rng.random() < 0.6 else not positive)
        else:
            sentence = _polar_sentence(rng, positive if rng.random() < agree else not positive, negation_rate)
        sentences.append(_noisy(sentence, rng, typo_rate))
    if kind != "clear" or rng.random() < 0.8:  # mixed reviews always end on a verdict
        verdict = rng.choice(POS_VERDICTS if positive else NEG_VERDICTS)
        if rng.random() < 0.3:
            verdict = "Overall, " + (verdict if verdict.startswith("I ") else verdict[0].lower() + verdict[1:])
        sentences.append(verdict)
    while _length(sentences) > high:
        sentences.pop(-2)
    breaks = rng.random() < 0.4  # some reviewers separate paragraphs, as IMDB shows them
    text = sentences[0]
    for sentence in sentences[1:]:
        text += (" <br /><br />" if breaks and rng.random() < 0.3 else " ") + sentence
    return text


def _length(sentences: Sequence[str]) -> int:
    return sum(len(basic_english(s)) for s in sentences)


def _balanced_labels(n: int, num_class: int, rng: random.Random) -> list[int]:
    labels = [k % num_class for k in range(n)]
    rng.shuffle(labels)
    return labels


def _flip(label: int, num_class: int, rate: float, rng: random.Random) -> int:
    if rng.random() >= rate:
        return label
    return rng.choice([c for c in range(num_class) if c != label])


def generate_reviews(n: int, seed: int = 0, noise: float = REVIEW_NOISE) -> list[tuple[int, str]]:
    """`n` IMDB-like reviews as (label, text), 0 = negative, 1 = positive, balanced classes.

    Deterministic from `seed`. A fraction `noise` of labels is flipped (real labels are noisy too).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"reviews:{seed}")
    labels = _balanced_labels(n, 2, rng)
    return [(_flip(y, 2, noise, rng), _review(rng, bool(y))) for y in labels]


# ---------------------------------------------------------------------------------------------
# News. Each topic fills the same kinds of slots with its own words. An evaluative phrase
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


def _news(rng: random.Random, topic: int) -> str:
    low, high = NEWS_TOKENS
    target = rng.randrange(low + 5, high - 8)
    # A third of the stories also touch another topic (a club's finances, a tech firm's shares,
    # an election's economics): their sentences mix both, which blurs the classes as in AG News.
    other = rng.choice([t for t in range(4) if t != topic]) if rng.random() < 0.35 else topic
    parts = [_noisy(_news_sentence(rng, topic, rng.choice(TITLES)), rng, 0.01)]
    while _length(parts) < target:
        source = other if rng.random() < 0.5 else topic
        sentence = _noisy(_news_sentence(rng, source, rng.choice(NEWS_TEMPLATES)), rng, 0.01)
        if _length(parts) + len(basic_english(sentence)) > high - 5:  # room for "AP - ", "(AP)"
            if _length(parts) >= low:
                break
            continue  # too long to fit: draw another
        parts.append(sentence)
    return " ".join([parts[0], rng.choice(SOURCES) + parts[1], *parts[2:]]) + rng.choice(TAGS)


def generate_news(n: int, seed: int = 0, noise: float = NEWS_NOISE) -> list[tuple[int, str]]:
    """`n` AG-News-like items (label, "title description"), labels 0..3 as `AG_NEWS_CLASSES`.

    Balanced, deterministic from `seed`; a fraction `noise` of labels is flipped.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"news:{seed}")
    labels = _balanced_labels(n, 4, rng)
    return [(_flip(y, 4, noise, rng), _news(rng, y)) for y in labels]


def imdb_ci(seed: int = 0) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The `ci` profile's IMDB stand-in: (train, test) of `IMDB_SIZES` reviews."""
    n_train, n_test = IMDB_SIZES
    return generate_reviews(n_train, seed), generate_reviews(n_test, seed + 10_000)


def ag_news_ci(seed: int = 0) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The `ci` profile's AG News stand-in: (train, test) of `AG_NEWS_SIZES` items."""
    n_train, n_test = AG_NEWS_SIZES
    return generate_news(n_train, seed), generate_news(n_test, seed + 10_000)


# ---------------------------------------------------------------------------------------------
# Word vectors.
def ppmi_svd_vectors(
    texts: Iterable[str],
    dim: int = 50,
    window: int = 4,
    scale: float = 4.0,
    seed: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Word vectors from raw text: PPMI of co-occurrences within `window`, truncated SVD.

    Returns (words, [len(words), dim] float32 array), most frequent words first as in GloVe's
    files; every basic_english token of `texts` is included. Rows are scaled to norm `scale`
    (GloVe 6B's vectors have norms of about 4-6).
    """
    docs = [basic_english(t) for t in texts]
    counts = Counter(token for doc in docs for token in doc)
    if not counts:
        raise ValueError("ppmi_svd_vectors got no tokens")
    words = [w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    index = {w: i for i, w in enumerate(words)}
    size = len(words)
    if not 0 < dim < size:
        raise ValueError(f"dim must be between 1 and the vocabulary size - 1 ({size - 1}), got {dim}")
    ids = [np.fromiter((index[t] for t in doc), dtype=np.int64, count=len(doc)) for doc in docs]
    cooc = np.zeros(size * size, dtype=np.float64)
    for distance in range(1, window + 1):
        left = np.concatenate([d[:-distance] for d in ids if len(d) > distance] or [np.zeros(0, np.int64)])
        right = np.concatenate([d[distance:] for d in ids if len(d) > distance] or [np.zeros(0, np.int64)])
        weight = 1.0 / distance  # nearer words count more, as GloVe weights them
        cooc += weight * np.bincount(left * size + right, minlength=size * size)
        cooc += weight * np.bincount(right * size + left, minlength=size * size)
    cooc = cooc.reshape(size, size)
    total = cooc.sum()
    row = cooc.sum(axis=1)
    # Context-distribution smoothing (exponent 0.75) keeps rare words from dominating PPMI.
    context = row**0.75
    context /= context.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(cooc / total) - np.log(row / total)[:, None] - np.log(context)[None, :]
    ppmi = np.where(cooc > 0, np.maximum(pmi, 0.0), 0.0)
    u, s = _truncated_svd(ppmi, dim, seed)
    vectors = u * np.sqrt(s)[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = scale * vectors / np.where(norms > 0, norms, 1.0)
    # Float64 throughout, then 4 decimals: machines that sum in another order (other BLAS,
    # other thread counts) still write the same file, so ci metrics repeat everywhere.
    return words, np.round(vectors, 4).astype(np.float32)


def _truncated_svd(matrix: np.ndarray, rank: int, seed: int, power: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Top-`rank` left singular vectors and values by randomized SVD (Halko et al. 2011)."""
    rng = np.random.default_rng(seed)
    probe = rng.standard_normal((matrix.shape[1], rank + 10)).astype(matrix.dtype)
    basis, _ = np.linalg.qr(matrix @ probe)
    for _ in range(power):  # power iterations sharpen the spectrum
        basis, _ = np.linalg.qr(matrix.T @ basis)
        basis, _ = np.linalg.qr(matrix @ basis)
    u_small, s, _ = np.linalg.svd(basis.T @ matrix, full_matrices=False)
    u = basis @ u_small[:, :rank]
    # Fix each column's sign so the same text always gives the same vectors.
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(rank)])
    return u * np.where(signs == 0, 1.0, signs), s[:rank]


def ci_texts(seed: int = 0) -> list[str]:
    """Every text of the `ci` corpora (both tasks, train and test): the vectors' training text."""
    texts: list[str] = []
    for train, test in (imdb_ci(seed), ag_news_ci(seed)):
        texts.extend(text for _, text in train + test)
    return texts


def label_counts(items: Sequence[tuple[int, str]]) -> dict[int, int]:
    """How many items each label has (to check balance)."""
    return dict(sorted(Counter(label for label, _ in items).items()))
