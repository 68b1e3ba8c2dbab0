"""Instruction pairs for the ci profile (chapters 11-12): one-turn conversations in the
openassistant-guanaco format (`### Human: ...### Assistant: ...`) whose answers follow from the
question by a rule or a fixed table, so a tiny model learns something measurable in seconds.
"""

from __future__ import annotations

import random

# The markers of the guanaco format: `ftcourse.sft` parses and writes them.
HUMAN = "### Human:"
ASSISTANT = "### Assistant:"

CAPITALS = {
    "France": "Paris", "Italy": "Rome", "Spain": "Madrid", "Germany": "Berlin", "Japan": "Tokyo",
    "Egypt": "Cairo", "Kenya": "Nairobi", "Peru": "Lima", "Norway": "Oslo", "Greece": "Athens",
    "Poland": "Warsaw", "Chile": "Santiago", "Canada": "Ottawa", "India": "Delhi", "Cuba": "Havana",
    "Ireland": "Dublin",
}
OPPOSITES = {
    "hot": "cold", "big": "small", "fast": "slow", "happy": "sad", "early": "late", "light": "dark",
    "open": "closed", "strong": "weak", "high": "low", "young": "old", "rich": "poor", "loud": "quiet",
    "wet": "dry", "easy": "hard", "full": "empty", "near": "far",
}
LEGS = {"dog": 4, "cat": 4, "bird": 2, "spider": 8, "ant": 6, "horse": 4, "duck": 2, "bee": 6,
        "crab": 10, "cow": 4, "snake": 0, "fish": 0}
NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                "fifteen sixteen seventeen eighteen").split()
WORDS = ("apple river garden window planet music silver forest candle rocket pencil yellow "
         "doctor island summer winter").split()


def _capital(rng: random.Random) -> tuple[str, str]:
    country = rng.choice(sorted(CAPITALS))
    question = rng.choice(["What is the capital of {c}?", "Which city is the capital of {c}?",
                           "Tell me the capital of {c}."]).format(c=country)
    return question, f"The capital of {country} is {CAPITALS[country]}."


def _opposite(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(sorted(OPPOSITES))
    question = rng.choice(["What is the opposite of {w}?", "Give me the opposite of the word {w}.",
                           "Which word means the opposite of {w}?"]).format(w=word)
    return question, f"The opposite of {word} is {OPPOSITES[word]}."


def _legs(rng: random.Random) -> tuple[str, str]:
    animal = rng.choice(sorted(LEGS))
    question = rng.choice(["How many legs does a {a} have?", "Count the legs of a {a}."]).format(a=animal)
    return question, f"A {animal} has {NUMBER_WORDS[LEGS[animal]]} legs."


def _add(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(0, 9), rng.randint(0, 9)
    question = rng.choice(["What is {a} plus {b}?", "Add {a} and {b}."]).format(a=NUMBER_WORDS[a], b=NUMBER_WORDS[b])
    return question, f"{NUMBER_WORDS[a].capitalize()} plus {NUMBER_WORDS[b]} is {NUMBER_WORDS[a + b]}."


def _plural(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(WORDS)
    question = rng.choice(["What is the plural of {w}?", "Write the word {w} in the plural."]).format(w=word)
    return question, f"The plural of {word} is {word}s."


def _repeat(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(WORDS)
    return f"Repeat the word {word} three times.", f"{word} {word} {word}"


_TASKS = (_capital, _opposite, _legs, _add, _plural, _repeat)


def generate_instructions(n: int, seed: int = 0) -> list[str]:
    """`n` one-turn conversations in the guanaco format: templated questions whose answers follow
    from the question by a rule or a fixed table (capitals, opposites, legs, sums, plurals,
    repetition). The ci profile's stand-in for openassistant-guanaco."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"sft:{seed}")
    return [f"{HUMAN} {q}{ASSISTANT} {a}" for q, a in (_TASKS[k % len(_TASKS)](rng) for k in range(n))]
