"""Preference pairs for DPO on the ci profile (chapter 16), over the small world of chapter 11's
instructions: the chosen answer is the right, complete sentence; the rejected one states a wrong
fact (another capital, a wrong count or sum), or is curt (the bare fact) or unhelpful (a refusal).
The preference follows a rule a model can learn. Prompts use chapter 11's format.
"""

from __future__ import annotations

import random

from ftcourse.corpora.instructions import (
    _TASKS,
    ASSISTANT,
    CAPITALS,
    HUMAN,
    NUMBER_WORDS,
    OPPOSITES,
    _add,
    _capital,
    _legs,
    _opposite,
    _plural,
    _repeat,
)

KINDS = ("wrong fact", "curt", "unhelpful")
REFUSALS = ("I don't know.", "Look it up yourself.", "I would rather not answer that.")


def _wrong(rng: random.Random, task, answer: str) -> str:
    """`answer` with its fact replaced by a wrong one of the same kind."""
    if task is _capital:
        right = answer.rstrip(".").split()[-1]
        wrong = rng.choice(sorted(set(CAPITALS.values()) - {right}))
        return answer[: answer.rindex(right)] + wrong + "."
    if task is _opposite:
        right = answer.rstrip(".").split()[-1]
        word = answer.split()[3]
        wrong = rng.choice(sorted(set(OPPOSITES.values()) - {right}) + [word])
        return answer[: answer.rindex(right)] + wrong + "."
    if task in (_legs, _add):
        words = answer.rstrip(".").split()
        position = -2 if task is _legs else -1
        number = NUMBER_WORDS.index(words[position])
        wrong = rng.choice([k for k in (number - 2, number - 1, number + 1, number + 2)
                            if 0 <= k < len(NUMBER_WORDS)])
        words[position] = NUMBER_WORDS[wrong]
        return " ".join(words) + "."
    if task is _plural:
        word = answer.split()[3]
        return rng.choice([f"The plural of {word} is {word}.", f"The plural of {word} is {word}es."])
    word = answer.split()[0]  # repetition: the wrong count
    return rng.choice([f"{word} {word}", f"{word} {word} {word} {word}"])


def _curt(answer: str) -> str:
    """The bare fact of a complete answer: "The capital of Peru is Lima." -> "Lima."."""
    last = answer.rstrip(".").split()[-1 if not answer.endswith("legs.") else -2]
    return last.capitalize() + "."


def generate_preferences(n: int, seed: int = 0) -> list[dict[str, str]]:
    """`n` preference pairs {"prompt", "chosen", "rejected", "kind"} over chapter 11's world: the
    chosen answer is the right complete sentence; the rejected is a wrong fact (60%), the bare
    fact (curt, 20%) or a refusal (unhelpful, 20%). The ci profile's preference set."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"dpo:{seed}")
    pairs = []
    for k in range(n):
        task = _TASKS[k % len(_TASKS)]
        question, answer = task(rng)
        draw = rng.random()
        kind = "wrong fact" if draw < 0.6 or task is _repeat else "curt" if draw < 0.8 else "unhelpful"
        rejected = (_wrong(rng, task, answer) if kind == "wrong fact"
                    else _curt(answer) if kind == "curt" else rng.choice(REFUSALS))
        pairs.append({"prompt": f"{HUMAN} {question}{ASSISTANT}", "chosen": " " + answer, "rejected": " " + rejected,
                      "kind": kind})
    return pairs


# ---------------------------------------------------------------------------------------------
