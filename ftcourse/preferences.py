"""Preference pairs for DPO (chapter 16): a prompt, a chosen and a rejected answer.

On `ci` they are generated from the small world of chapter 11's instructions (`sft`): the chosen
answer is the right, complete sentence; the rejected one states a wrong fact (another capital, a
wrong count or sum), or is curt (the bare fact) or unhelpful (a refusal). The preference follows
a rule a model can learn. On `full` they are Intel/orca_dpo_pairs from the hub (one split,
12,859 pairs: columns system, question, chosen (GPT-4), rejected (Llama-2-13b-chat)), the last
`FULL_EVAL` held out; or its `orca_rlhf.jsonl` in `FTCOURSE_DATA_DIR/orca_dpo_pairs/`.
Prompts use chapter 11's format, `### Human: ...### Assistant:`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from ftcourse import sft
from ftcourse._env import data_dir
from ftcourse._env import profile as active_profile

ORCA_HUB = "Intel/orca_dpo_pairs"
ORCA_REVISION = "6ccacf6d3ab601b17cc05a971c94749057f77fa4"  # "Add DPO tag"; its orca_rlhf.jsonl
ORCA_COLUMNS = ("system", "question", "chosen", "rejected")
ORCA_FOLDER, ORCA_FILE = "orca_dpo_pairs", "orca_rlhf.jsonl"
CI_SIZES = (400, 100)  # generated training and held-out pairs on the ci profile
FULL_EVAL = 500  # pairs held out of the hub's single split on full
KINDS = ("wrong fact", "curt", "unhelpful")
REFUSALS = ("I don't know.", "Look it up yourself.", "I would rather not answer that.")


# ---------------------------------------------------------------------------------------------
# Generated pairs (ci profile)
def _wrong(rng: random.Random, task, answer: str) -> str:
    """`answer` with its fact replaced by a wrong one of the same kind."""
    if task is sft._capital:
        right = answer.rstrip(".").split()[-1]
        wrong = rng.choice(sorted(set(sft.CAPITALS.values()) - {right}))
        return answer[: answer.rindex(right)] + wrong + "."
    if task is sft._opposite:
        right = answer.rstrip(".").split()[-1]
        word = answer.split()[3]
        wrong = rng.choice(sorted(set(sft.OPPOSITES.values()) - {right}) + [word])
        return answer[: answer.rindex(right)] + wrong + "."
    if task in (sft._legs, sft._add):
        words = answer.rstrip(".").split()
        position = -2 if task is sft._legs else -1
        number = sft.NUMBER_WORDS.index(words[position])
        wrong = rng.choice([k for k in (number - 2, number - 1, number + 1, number + 2)
                            if 0 <= k < len(sft.NUMBER_WORDS)])
        words[position] = sft.NUMBER_WORDS[wrong]
        return " ".join(words) + "."
    if task is sft._plural:
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
        task = sft._TASKS[k % len(sft._TASKS)]
        question, answer = task(rng)
        draw = rng.random()
        kind = "wrong fact" if draw < 0.6 or task is sft._repeat else "curt" if draw < 0.8 else "unhelpful"
        rejected = (_wrong(rng, task, answer) if kind == "wrong fact"
                    else _curt(answer) if kind == "curt" else rng.choice(REFUSALS))
        pairs.append({"prompt": sft.make_prompt(question), "chosen": " " + answer, "rejected": " " + rejected,
                      "kind": kind})
    return pairs


# ---------------------------------------------------------------------------------------------
# Loading
@dataclass
class PreferenceData:
    """Preference pairs, train and held-out, and where they came from."""

    train: list[dict[str, str]]
    eval: list[dict[str, str]]
    source: str


def orca_pair(record: dict) -> dict[str, str]:
    """A pair in chapter 11's prompt format from an Intel/orca_dpo_pairs row (system, question,
    chosen, rejected): the system text, when there is one, opens the human turn."""
    missing = [c for c in ORCA_COLUMNS if not isinstance(record.get(c), str)]
    if missing:
        raise ValueError(f"an orca_dpo_pairs row has the string columns {ORCA_COLUMNS}; "
                         f"missing or not text: {missing}")
    system, question = record["system"].strip(), record["question"].strip()
    return {"prompt": sft.make_prompt(f"{system}\n\n{question}" if system else question),
            "chosen": " " + record["chosen"].strip(), "rejected": " " + record["rejected"].strip(),
            "kind": "orca"}


def load_preferences(profile: str | None = None) -> PreferenceData:
    """The preference pairs of chapter 16 for the profile: generated on ci, Intel/orca_dpo_pairs
    (the last `FULL_EVAL` pairs held out) on full, from `FTCOURSE_DATA_DIR` when that is set."""
    if active_profile(profile) == "ci":
        n_train, n_eval = CI_SIZES
        return PreferenceData(generate_preferences(n_train, 0), generate_preferences(n_eval, 1),
                              "generated preference pairs (ci profile, seeds 0 and 1)")
    root = data_dir()
    if root is not None:
        path = root / ORCA_FOLDER / ORCA_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found (FTCOURSE_DATA_DIR). Copy {ORCA_FILE} of {ORCA_HUB} there, "
                                    "unset FTCOURSE_DATA_DIR to download it, or set FTCOURSE_PROFILE=ci.")
        rows, source = _read_jsonl(path), str(path)
    else:
        from ftcourse.hf import load_hub_dataset

        rows = list(load_hub_dataset(ORCA_HUB, revision=ORCA_REVISION)["train"])
        source = f"hub: {ORCA_HUB}@{ORCA_REVISION[:7]}"
    if len(rows) <= FULL_EVAL:
        raise ValueError(f"{source} holds {len(rows)} pairs, fewer than the {FULL_EVAL} held out")
    pairs = [orca_pair(r) for r in rows]
    return PreferenceData(pairs[:-FULL_EVAL], pairs[-FULL_EVAL:], source)


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{number}: not a JSON line ({err})") from err
    return rows


__all__ = ["CI_SIZES", "FULL_EVAL", "ORCA_COLUMNS", "ORCA_HUB", "ORCA_REVISION", "PreferenceData",
           "generate_preferences", "load_preferences", "orca_pair"]
