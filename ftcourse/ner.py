"""Named-entity recognition data: CoNLL-2003 in both profiles, and word-piece label alignment.

A sentence is a dict of `tokens` and IOB2 `tags` (B- opens an entity, I- continues it). The
original CoNLL-2003 files are in IOB1 (I- opens an entity unless it follows one of the same
type); `read_conll` converts them. A tokenizer splits words into pieces: `align_labels` gives the
first piece the word's label and the others -100, which the loss ignores, as the source document
does. `ner_metrics` and `per_entity_metrics` score entities with seqeval; `predict_tags` and
`predict_entities` turn a model's piece-level predictions back into words and entity spans.
Taught in chapter 10.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ftcourse import corpora
from ftcourse._env import data_dir
from ftcourse._env import profile as active_profile

NER_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")  # the hub's order
IGNORE_INDEX = -100  # what PyTorch's cross-entropy skips
CI_SIZES = (1000, 200, 200)  # train, validation, test sentences
# Either naming of the CoNLL-2003 files: the shared task's, or the common train/valid/test copy.
SPLIT_FILES = {
    "train": ("eng.train", "train.txt"),
    "validation": ("eng.testa", "valid.txt"),
    "test": ("eng.testb", "test.txt"),
}
# Script-free copies on the hub, tried in turn: the hub's own parquet export, then a parquet copy.
HUB_SOURCES = (("eriktks/conll2003", "refs/convert/parquet"), ("lhoestq/conll2003", None))
_TAG = re.compile(r"^(O|[BI]-[A-Za-z]+)$")


class NERData(NamedTuple):
    """What `load_conll` gives: the splits as a `datasets.DatasetDict` and where they came from."""

    splits: Any  # datasets.DatasetDict: train, validation, test with `tokens` and `ner_tags`
    source: str


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """Rewrite IOB1 tags as IOB2: an I- tag that opens an entity becomes B- (IOB2 is unchanged)."""
    out: list[str] = []
    for tag in tags:
        if tag.startswith("I-"):
            previous = out[-1] if out else "O"
            if previous == "O" or previous[2:] != tag[2:]:
                tag = "B-" + tag[2:]
        out.append(tag)
    return out


def read_conll(path: Path) -> list[dict[str, list[str]]]:
    """Read a CoNLL-2003 file (`token POS chunk NER` per line, blank lines between sentences).

    `-DOCSTART-` lines are skipped; the last column is the tag; tags come back in IOB2 whether the
    file used IOB1 (the original `eng.*` files) or IOB2.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # some copies of the Reuters text are Latin-1
    sentences: list[dict[str, list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if tokens:
            sentences.append({"tokens": list(tokens), "tags": iob1_to_iob2(tags)})
            tokens.clear()
            tags.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            flush()
            continue
        if len(parts) < 2:
            raise ValueError(f"{path}:{number}: expected 'token POS chunk NER' columns, got {line!r}")
        if not _TAG.match(parts[-1]):
            raise ValueError(
                f"{path}:{number}: {parts[-1]!r} is not an IOB tag (O, B-TYPE or I-TYPE); "
                "is the NER tag the last column?"
            )
        tokens.append(parts[0])
        tags.append(parts[-1])
    flush()
    if not sentences:
        raise ValueError(f"{path} holds no sentences; is it a CoNLL-2003 file?")
    return sentences


# ---------------------------------------------------------------------------------------------
# Datasets
def to_dataset(sentences: Sequence[dict[str, list[str]]]):
    """A `datasets.Dataset` with `tokens` and `ner_tags` (ClassLabel ids of `NER_LABELS`)."""
    from datasets import ClassLabel, Dataset, Features, Value
    from datasets import Sequence as HFSequence

    index = {label: i for i, label in enumerate(NER_LABELS)}
    unknown = sorted({t for s in sentences for t in s["tags"]} - set(index))
    if unknown:
        raise ValueError(f"tags {unknown} are not CoNLL-2003 labels {list(NER_LABELS)}")
    features = Features({
        "tokens": HFSequence(Value("string")),
        "ner_tags": HFSequence(ClassLabel(names=list(NER_LABELS))),
    })
    return Dataset.from_dict(
        {"tokens": [s["tokens"] for s in sentences],
         "ner_tags": [[index[t] for t in s["tags"]] for s in sentences]},
        features=features,
    )


def _conll_folder_splits(folder: Path):
    from datasets import DatasetDict

    splits = {}
    for split, names in SPLIT_FILES.items():
        found = [folder / name for name in names if (folder / name).is_file()]
        if not found:
            raise FileNotFoundError(
                f"no {' or '.join(names)} in {folder}. Put the CoNLL-2003 files there, unset "
                "FTCOURSE_DATA_DIR to download, or set FTCOURSE_PROFILE=ci."
            )
        splits[split] = to_dataset(read_conll(found[0]))
    return NERData(DatasetDict(splits), f"CoNLL-2003 files in {folder}")


def _from_hub() -> NERData:
    from datasets import DatasetDict

    from ftcourse.hub import load_first_dataset

    hub, name, revision = load_first_dataset(HUB_SOURCES, "CoNLL-2003")
    out = {}
    for split in SPLIT_FILES:
        column = hub[split].features["ner_tags"].feature
        names = getattr(column, "names", None)  # ClassLabel ids, or the tags as strings
        sentences = [
            {"tokens": row["tokens"], "tags": [names[t] for t in row["ner_tags"]] if names else row["ner_tags"]}
            for row in hub[split]
        ]
        out[split] = to_dataset(sentences)
    return NERData(DatasetDict(out), f"hub: {name}" + (f" ({revision})" if revision else ""))


def load_conll(profile: str | None = None) -> NERData:
    """CoNLL-2003 per profile, as `NERData(splits, source)`: `splits` a `DatasetDict` (train,
    validation, test; `tokens`, `ner_tags`), `source` where the sentences came from, in words.

    `full` reads `FTCOURSE_DATA_DIR/conll2003/` in either file naming, else a script-free copy
    from the hub; `ci` generates sentences. Label names: `splits["train"].features["ner_tags"].feature.names`.
    Chapter 10.
    """
    value = active_profile(profile)
    if value == "ci":
        from datasets import DatasetDict

        splits = DatasetDict({
            split: to_dataset(corpora.generate_ner(size, seed))
            for seed, (split, size) in enumerate(zip(SPLIT_FILES, CI_SIZES))
        })
        return NERData(splits, "generated news-like sentences (ci profile, seeds 0-2)")
    root = data_dir()
    if root is not None:
        return _conll_folder_splits(root / "conll2003")
    return _from_hub()


# ---------------------------------------------------------------------------------------------
# Word pieces and labels
def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int],
                 label_all_tokens: bool = False) -> list[int]:
    """One label per token: the word's label on its first piece, -100 on special tokens and on the
    other pieces (or the word's label on every piece with `label_all_tokens`). Chapter 10.
    """
    aligned = []
    previous = None
    for word in word_ids:
        if word is None:
            aligned.append(IGNORE_INDEX)
        else:
            if not 0 <= word < len(word_labels):
                raise ValueError(
                    f"word id {word} but only {len(word_labels)} labels: word_ids and word_labels "
                    "come from different sentences"
                )
            aligned.append(word_labels[word] if word != previous or label_all_tokens else IGNORE_INDEX)
        previous = word
    return aligned


def tokenize_and_align(examples, tokenizer, *, label_column: str = "ner_tags",
                       max_length: int | None = None, label_all_tokens: bool = False):
    """Tokenize pre-split sentences and add aligned `labels`: for `Dataset.map(..., batched=True)`."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("label alignment needs a fast tokenizer (its word_ids()); load it with AutoTokenizer")
    words = examples["tokens"]
    if words and isinstance(words[0], str):
        raise TypeError("tokenize_and_align expects a batch of sentences: call Dataset.map(..., batched=True)")
    encoded = tokenizer(list(words), truncation=True, is_split_into_words=True, max_length=max_length)
    encoded["labels"] = [
        align_labels(encoded.word_ids(i), labels, label_all_tokens)
        for i, labels in enumerate(examples[label_column])
    ]
    return encoded


def _tag_sequences(
    predictions, labels, label_names: Sequence[str]
) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted tag names per sentence, without the -100 positions."""
    import numpy as np

    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.ndim == labels.ndim + 1:
        predictions = predictions.argmax(-1)
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape} do not match")
    true, pred = [], []
    for p_row, l_row in zip(predictions, labels):
        keep = l_row != IGNORE_INDEX
        true.append([label_names[i] for i in l_row[keep]])
        pred.append([label_names[i] for i in p_row[keep]])
    return true, pred


def ner_metrics(predictions, labels, label_names: Sequence[str] = NER_LABELS) -> dict[str, float]:
    """Entity-level precision, recall and F1 (seqeval) and token accuracy, ignoring -100 positions.

    `predictions` are logits (batch, tokens, classes) or class ids; use as
    `compute_metrics=lambda p: ner_metrics(*p)` with the Trainer. Chapter 10.
    """
    from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

    true, pred = _tag_sequences(predictions, labels, label_names)
    return {
        "precision": float(precision_score(true, pred, zero_division=0)),
        "recall": float(recall_score(true, pred, zero_division=0)),
        "f1": float(f1_score(true, pred, zero_division=0)),
        "accuracy": float(accuracy_score(true, pred)),
    }


def per_entity_metrics(
    predictions, labels, label_names: Sequence[str] = NER_LABELS
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support (gold entities) per entity type, as seqeval counts them.

    Same inputs as `ner_metrics`; returns e.g. `{"PER": {"precision": .., "recall": .., "f1": ..,
    "support": ..}, ...}` for every type in `label_names`, in their order. Chapter 10.
    """
    from seqeval.metrics import classification_report

    true, pred = _tag_sequences(predictions, labels, label_names)
    report = classification_report(true, pred, output_dict=True, zero_division=0)
    types = list(dict.fromkeys(name[2:] for name in label_names if name != "O"))
    empty = {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0}
    return {
        kind: {
            "precision": float(report.get(kind, empty)["precision"]),
            "recall": float(report.get(kind, empty)["recall"]),
            "f1": float(report.get(kind, empty)["f1-score"]),
            "support": int(report.get(kind, empty)["support"]),
        }
        for kind in types
    }


# ---------------------------------------------------------------------------------------------
# From token predictions back to words and entities
# Words and punctuation as CoNLL-2003 splits them: "Germany's" -> "Germany", "'s"; "2-1" and
# "1,000" stay whole; every other symbol is a word of its own.
_WORD = re.compile(r"'s\b|\w+(?:[-.,]\w+)*|[^\w\s]")


def split_words(text: str) -> list[str]:
    """Split raw text into the words a CoNLL-style model expects (see `predict_entities`)."""
    return _WORD.findall(text)


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of a tag sequence as (type, first word, end word exclusive).

    B-X opens an entity, I-X continues it; an I-X that follows O or another type opens one too
    (as seqeval and the CoNLL scorer read it), so a model's imperfect tags still give entities.
    """
    for tag in tags:
        if not _TAG.match(tag):
            raise ValueError(f"{tag!r} is not an IOB tag (O, B-TYPE or I-TYPE)")
    spans: list[tuple[str, int, int]] = []
    for i, tag in enumerate(iob1_to_iob2(tags)):
        if tag.startswith("B-"):
            spans.append((tag[2:], i, i + 1))
        elif tag.startswith("I-"):
            kind, start, _ = spans[-1]
            spans[-1] = (kind, start, i + 1)
    return spans


def mark_entities(words: Sequence[str], tags: Sequence[str]) -> str:
    """The sentence with each entity in brackets after its type: `[PER Anna Keller] joined ...`."""
    if len(words) != len(tags):
        raise ValueError(f"{len(words)} words but {len(tags)} tags")
    out = list(words)
    for kind, start, end in reversed(entity_spans(tags)):
        out[start:end] = [f"[{kind} " + " ".join(words[start:end]) + "]"]
    return " ".join(out)


def _model_tags(model) -> dict[int, str]:
    id2label = {int(i): label for i, label in model.config.id2label.items()}
    bad = sorted({label for label in id2label.values() if not _TAG.match(label)})
    if bad:
        raise ValueError(
            f"the model's labels {bad} are not IOB tags: load it with "
            "id2label=dict(enumerate(label_names)) so its outputs can be read as entities"
        )
    return id2label


def predict_tags(words: Sequence[str], model, tokenizer) -> list[str]:
    """One IOB2 tag per word from a token-classification model: the tag of the word's first piece.

    The mirror image of `align_labels`: the model labels pieces, the first piece speaks for the
    word. The tag names come from `model.config.id2label`. Chapter 10.
    """
    import torch

    if isinstance(words, str):
        raise TypeError("predict_tags expects a list of words; for raw text call predict_entities")
    words = list(words)
    if not words:
        return []
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(
            "predicting per word needs a fast tokenizer (its word_ids()); load it with AutoTokenizer"
        )
    id2label = _model_tags(model)
    encoded = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    limit = getattr(model.config, "max_position_embeddings", None)
    length = encoded["input_ids"].shape[1]
    if limit is not None and length > limit:
        raise ValueError(
            f"{len(words)} words make {length} tokens, more than the model's {limit} positions: "
            "split the text into sentences and tag each"
        )
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(**{k: v.to(device) for k, v in encoded.items()}).logits[0]
    finally:
        model.train(was_training)
    ids = logits.argmax(-1).tolist()
    tags = ["O"] * len(words)  # a word with no pieces at all (e.g. a lone control character) stays O
    seen: set[int] = set()
    for position, word in enumerate(encoded.word_ids(0)):
        if word is not None and word not in seen:
            tags[word] = id2label[ids[position]]
            seen.add(word)
    return tags


def predict_entities(text_or_words: str | Sequence[str], model, tokenizer) -> list[tuple[str, str]]:
    """The entities a token-classification model finds, as (entity text, type) in reading order.

    Raw text is split into words with `split_words` and each entity's text is cut from the
    original string; a list of words is taken as it is and entity words are joined by spaces.
    Chapter 10.
    """
    if isinstance(text_or_words, str):
        text = text_or_words
        matches = list(_WORD.finditer(text))
        words = [m.group() for m in matches]
        if not words:
            raise ValueError("the text holds no words to tag")
        tags = predict_tags(words, model, tokenizer)
        return [(text[matches[s].start():matches[e - 1].end()], kind) for kind, s, e in entity_spans(tags)]
    words = list(text_or_words)
    if not words:
        raise ValueError("no words to tag")
    tags = predict_tags(words, model, tokenizer)
    return [(" ".join(words[s:e]), kind) for kind, s, e in entity_spans(tags)]
