"""Language-model data and perplexity: WikiText-2 in both profiles.

`load_wikitext` gives one row per line of the raw files, as the hub's `wikitext-2-raw-v1` does:
headings (" = Title = "), paragraphs, and empty rows for the blank lines. The source document
tokenizes those rows as they are, empty ones included (`drop_empty=True` removes them).
Perplexity is exp(mean cross-entropy per token). Taught in chapter 07 (pre-training BERT with MLM).
"""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

from ftcourse import corpora
from ftcourse._env import data_dir
from ftcourse._env import profile as active_profile

WIKITEXT_FILES = {"train": "wiki.train.raw", "validation": "wiki.valid.raw", "test": "wiki.test.raw"}
WIKITEXT_HUB = ("Salesforce/wikitext", "wikitext-2-raw-v1")
CI_SIZES = (1200, 200, 200)  # rows (lines) per split
_HEADING = re.compile(r"^ ?(=+) .* \1 ?$")


def is_heading(row: str) -> bool:
    """Whether a WikiText row is a heading such as ' = Valkyria Chronicles III = '."""
    return bool(_HEADING.match(row.rstrip("\n")))


def read_wikitext(path: Path, drop_empty: bool = False) -> list[str]:
    """Read a `wiki.*.raw` file as the hub's rows: each line with its newline, blank lines as ''."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; expected wikitext-2-raw/wiki.{{train,valid,test}}.raw")
    rows = []
    with path.open(encoding="utf-8", newline="\n") as handle:
        for line in handle:
            rows.append(line if line.strip() else "")
    if drop_empty:
        rows = [row for row in rows if row]
    if not any(rows):
        raise ValueError(f"{path} holds no text")
    return rows


def generate_lm_corpus(n: int, seed: int = 0) -> list[str]:
    """`n` rows shaped like WikiText (headings, paragraphs, blank rows) from generated text: the
    ci profile's stand-in for WikiText-2 (chapter 07)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"lm:{seed}")
    paragraphs = [text for _, text in corpora.generate_news(n, seed)]
    paragraphs += [text.replace("<br />", " ") for _, text in corpora.generate_reviews(n // 2, seed)]
    rng.shuffle(paragraphs)
    rows: list[str] = []
    while len(rows) < n:
        title = f"{rng.choice(corpora.FIRST_NAMES)} {rng.choice(corpora.LAST_NAMES)}"
        rows += ["", f" = {title} = \n", ""]
        for section in rng.sample(("Early life", "Career", "Reception", "Legacy", "History"), 2):
            rows += [f" = = {section} = = \n", ""]
            for _ in range(rng.randint(1, 3)):
                rows += [f" {paragraphs.pop()} \n", ""]
    return rows[:n]


def load_wikitext(profile: str | None = None, drop_empty: bool = False):
    """WikiText-2 (raw) as a `DatasetDict` (train, validation, test; column `text`), per profile.

    `full` reads `FTCOURSE_DATA_DIR/wikitext-2-raw/wiki.*.raw`, else the hub's parquet copy;
    `ci` generates WikiText-shaped rows.
    """
    from datasets import Dataset, DatasetDict

    value = active_profile(profile)
    if value == "ci":
        rows = {split: generate_lm_corpus(size, seed)
                for seed, (split, size) in enumerate(zip(WIKITEXT_FILES, CI_SIZES))}
    else:
        root = data_dir()
        if root is None:
            from ftcourse.hf import load_hub_dataset

            hub = load_hub_dataset(*WIKITEXT_HUB)
            rows = {split: list(hub[split]["text"]) for split in WIKITEXT_FILES}
        else:
            folder = root / "wikitext-2-raw"
            rows = {split: read_wikitext(folder / name) for split, name in WIKITEXT_FILES.items()}
    if drop_empty:
        rows = {split: [row for row in split_rows if row] for split, split_rows in rows.items()}
    return DatasetDict({split: Dataset.from_dict({"text": split_rows}) for split, split_rows in rows.items()})


def perplexity(mean_loss: float) -> float:
    """exp(mean cross-entropy per token): how many equally likely tokens the model hesitates between.

    Returns inf when the loss is too large for a float (an untrained model can get there).
    """
    loss = float(mean_loss)
    if math.isnan(loss):
        raise ValueError("the loss is NaN: training diverged (lower the learning rate or clip gradients)")
    if loss < 0:
        raise ValueError(f"a cross-entropy loss cannot be negative, got {loss}; pass the mean loss")
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf
