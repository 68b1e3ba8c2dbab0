"""Language-model data and perplexity: WikiText-2 in both profiles.

`load_wikitext` gives one row per line of the raw files, as the hub's `wikitext-2-raw-v1` does:
headings (" = Title = "), paragraphs, and empty rows for the blank lines. The source document
tokenizes those rows as they are, empty ones included (`drop_empty=True` removes them).
Perplexity is exp(mean cross-entropy per token). For masked-language-model pre-training,
`tokenize_for_mlm` cuts the rows into full `[CLS] ... [SEP]` blocks, `mask_once` fixes the masks of
an evaluation set, `PremaskedCollator` keeps them, and `masking_shares` and `unigram_perplexity`
say what the collator did and what counting tokens alone would score. Taught in chapter 07
(pre-training BERT with MLM).
"""

from __future__ import annotations

import math
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


def load_wikitext(profile: str | None = None, drop_empty: bool = False):
    """WikiText-2 (raw) as a `DatasetDict` (train, validation, test; column `text`), per profile.

    `full` reads `FTCOURSE_DATA_DIR/wikitext-2-raw/wiki.*.raw`, else the hub's parquet copy;
    `ci` generates WikiText-shaped rows.
    """
    from datasets import Dataset, DatasetDict

    value = active_profile(profile)
    if value == "ci":
        rows = {split: corpora.generate_lm_corpus(size, seed)
                for seed, (split, size) in enumerate(zip(WIKITEXT_FILES, CI_SIZES))}
    else:
        root = data_dir()
        if root is None:
            from ftcourse.hub import load_hub_dataset

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


# ---------------------------------------------------------------------------------------------
# Masked-language-model data (chapter 07)
def group_texts(token_lists, block_size: int, cls_id: int, sep_id: int) -> list[list[int]]:
    """Concatenate tokenized rows and cut them into blocks of `block_size` ids, each `[CLS] ... [SEP]`.

    Every block is full, so a batch needs no padding; the tail shorter than a block is dropped
    (as the Hugging Face MLM example does), unless it is the only block there is.
    """
    if block_size < 3:
        raise ValueError(f"block_size={block_size} leaves no room between [CLS] and [SEP]; use >= 3")
    flat = [i for row in token_lists for i in row]
    if not flat:
        raise ValueError("no tokens to group: every row was empty")
    width = block_size - 2
    chunks = [flat[k:k + width] for k in range(0, len(flat), width)]
    if len(chunks) > 1 and len(chunks[-1]) < width:
        chunks.pop()
    return [[cls_id, *chunk, sep_id] for chunk in chunks]


def tokenize_for_mlm(dataset, tokenizer, block_size: int = 128):
    """A `Dataset`/`DatasetDict` of rows (`text`) as blocks for MLM: `input_ids`, `attention_mask`,
    `special_tokens_mask`, every block `block_size` long. Empty rows are dropped.

    The source instead padded every row, empty ones included, to 512 tokens: most of each batch
    was padding the model still had to run through.
    """
    from datasets import DatasetDict

    def blocks(batch):
        rows = [t for t in batch["text"] if t and t.strip()]
        ids = tokenizer(rows, add_special_tokens=False)["input_ids"] if rows else []
        if not any(ids):
            return {"input_ids": [], "attention_mask": [], "special_tokens_mask": []}
        out = group_texts(ids, block_size, tokenizer.cls_token_id, tokenizer.sep_token_id)
        return {"input_ids": out, "attention_mask": [[1] * len(b) for b in out],
                "special_tokens_mask": [[1] + [0] * (len(b) - 2) + [1] for b in out]}

    def one(split):
        return split.map(blocks, batched=True, batch_size=1000, remove_columns=split.column_names)

    if isinstance(dataset, DatasetDict):
        return DatasetDict({name: one(split) for name, split in dataset.items()})
    return one(dataset)


def mask_once(dataset, tokenizer, mlm_probability: float = 0.15, seed: int = 0):
    """A copy of an MLM dataset with its masks drawn once (`input_ids` with [MASK], `labels`).

    Evaluating on it scores the same masked positions every time, so the perplexity before and
    after training (or of two models) compares like with like; masking afresh at each evaluation
    moves the figure by chance.
    """
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling

    if len(dataset) == 0:
        raise ValueError("mask_once got an empty dataset")
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability, seed=seed)
    batch = collator([dataset[i] for i in range(len(dataset))])
    return Dataset.from_dict({key: batch[key].tolist() for key in ("input_ids", "attention_mask", "labels")})


class PremaskedCollator:
    """Wraps an MLM collator: batches without labels are masked afresh (training), batches of a
    `mask_once` set, which carry their labels, are only stacked (evaluation)."""

    def __init__(self, collator) -> None:
        self.collator = collator
        self.tokenizer = collator.tokenizer

    def __call__(self, features):
        import torch

        if features and all("labels" in f for f in features):
            longest = max(len(f["input_ids"]) for f in features)
            pad = self.tokenizer.pad_token_id

            def padded(key, value):
                return torch.tensor([list(f[key]) + [value] * (longest - len(f[key])) for f in features])

            return {"input_ids": padded("input_ids", pad), "attention_mask": padded("attention_mask", 0),
                    "labels": padded("labels", -100)}
        return self.collator(features)


def masking_shares(original, masked, labels, mask_token_id: int, special_ids) -> dict[str, float]:
    """What the MLM collator did to a batch: the share of ordinary tokens chosen for prediction
    (`chosen`, 0.15 expected) and, among those, the shares replaced by [MASK], by a random token,
    or left as they were (0.8/0.1/0.1 expected; a random draw can hit the same token)."""
    import torch

    original, masked, labels = (torch.as_tensor(t) for t in (original, masked, labels))
    ordinary = ~torch.isin(original, torch.as_tensor(sorted(special_ids)))
    chosen = labels != -100
    if not bool(chosen.any()):
        raise ValueError("no token carries a label: nothing was masked")
    if not bool((labels[chosen] == original[chosen]).all()):
        raise ValueError("labels must hold the original ids at the chosen positions (and -100 elsewhere)")
    n = chosen.sum()
    to_mask = chosen & (masked == mask_token_id)
    kept = chosen & (masked == original)
    return {
        "chosen": float(n / ordinary.sum()),
        "mask": float(to_mask.sum() / n),
        "random": float((chosen & ~to_mask & ~kept).sum() / n),
        "kept": float(kept.sum() / n),
    }


def unigram_perplexity(train_ids, labels) -> float:
    """The perplexity of a model that ignores the context: each masked token is predicted from its
    frequency in `train_ids` (add-one smoothed over the ids seen in either). An MLM that does no
    better has learned which tokens are common, not how the words around a mask constrain it."""
    from collections import Counter

    counts = Counter(i for row in train_ids for i in row)
    targets = [int(t) for row in labels for t in row if int(t) != -100]
    if not counts or not targets:
        raise ValueError("unigram_perplexity needs training ids and at least one label that is not -100")
    vocab = len(set(counts) | set(targets))
    total = sum(counts.values()) + vocab
    return perplexity(-sum(math.log((counts[t] + 1) / total) for t in targets) / len(targets))
