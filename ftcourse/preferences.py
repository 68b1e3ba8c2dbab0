"""Preference pairs for DPO (chapter 16): a prompt, a chosen and a rejected answer.

On `ci` they are generated (`ftcourse.corpora.preferences`) from the small world of chapter 11's
instructions. On `full` they are Intel/orca_dpo_pairs from the hub (one split,
12,859 pairs: columns system, question, chosen (GPT-4), rejected (Llama-2-13b-chat)), the last
`FULL_EVAL` held out; or its `orca_rlhf.jsonl` in `FTCOURSE_DATA_DIR/orca_dpo_pairs/`.
Prompts use chapter 11's format, `### Human: ...### Assistant:`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ftcourse import sft
from ftcourse._env import data_dir
from ftcourse._env import profile as active_profile
from ftcourse.corpora.preferences import KINDS, generate_preferences

ORCA_HUB = "Intel/orca_dpo_pairs"
ORCA_REVISION = "6ccacf6d3ab601b17cc05a971c94749057f77fa4"  # "Add DPO tag"; its orca_rlhf.jsonl
ORCA_COLUMNS = ("system", "question", "chosen", "rejected")
ORCA_FOLDER, ORCA_FILE = "orca_dpo_pairs", "orca_rlhf.jsonl"
CI_SIZES = (400, 100)  # generated training and held-out pairs on the ci profile
FULL_EVAL = 500  # pairs held out of the hub's single split on full


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
        rows, source = _read_jsonl(path), f"{ORCA_FOLDER}/{ORCA_FILE} in the data folder"
    else:
        from ftcourse.hub import load_hub_dataset

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


__all__ = ["CI_SIZES", "KINDS", "FULL_EVAL", "ORCA_COLUMNS", "ORCA_HUB", "ORCA_REVISION", "PreferenceData",
           "generate_preferences", "load_preferences", "orca_pair"]
