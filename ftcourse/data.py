"""Datasets and loaders for both profiles: IMDB, AG News, Yelp and GloVe, plus batching.

`full` reads the original on-disk formats (the `aclImdb/` tree, `ag_news_csv/`, GloVe text files)
from `FTCOURSE_DATA_DIR`, or downloads them through `ftcourse.download`; `ci` uses the corpora
that `ftcourse.corpora` generates. Either way a dataset is a list of (label, text) pairs, label
first as in the seeds. Batching: `make_loader` tokenises (label, text) items once, with a `Vocab`
or a Hugging Face tokenizer, pads each batch and groups texts of similar length. Taught in chapter 02.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from ftcourse import corpora
from ftcourse._env import cache_dir, data_dir
from ftcourse._env import profile as active_profile
from ftcourse.text import GloVe, Vocab, basic_english, load_glove, save_glove

IMDB_CLASSES = ["negative review", "positive review"]  # the seeds' imdb_label
AG_NEWS_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
YELP_CLASSES = ["1 star", "2 star", "3 stars", "4 stars", "5 stars"]  # the hub's names
GLOVE_DEFAULT = "glove.6B.100d.txt"
CI_SEED = 0
CI_GLOVE_DIM = 50
CI_GLOVE_WINDOW = 4


@dataclass
class ClassificationData:
    """A classification dataset: train and test splits, class names and where they came from."""

    name: str
    train: Sequence
    test: Sequence
    classes: list[str]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def take(self, train: int | None = None, test: int | None = None, seed: int = 0):
        """A copy with at most `train` and `test` examples, drawn at random but the same for the same
        `seed`, in their original order (None keeps a split whole): a smaller run of a chapter."""
        import dataclasses

        return dataclasses.replace(self, train=_take(self.train, train, seed, "train"),
                                   test=_take(self.test, test, seed, "test"))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
            f"classes={self.classes}, source={self.source!r})"
        )


@dataclass(repr=False)
class TextClassificationData(ClassificationData):
    """A text classification dataset: (label, text) pairs, class names and where they came from."""

    train: list[tuple[int, str]]
    test: list[tuple[int, str]]


def _take(split, count: int | None, seed: int, name: str):
    if count is None or count >= len(split):
        return split
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"{name}={count!r}: give a number of examples >= 1, or None for the whole split")
    if hasattr(split, "take"):  # an ImageSplit
        return split.take(count, seed)
    keep = sorted(random.Random(f"take:{seed}").sample(range(len(split)), count))
    return [split[i] for i in keep]


def _missing(what: str, where: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"{what} not found in {where}. Point FTCOURSE_DATA_DIR at a folder holding the original "
        "layouts (aclImdb/, ag_news_csv/, glove/), unset it to download the data, "
        "or set FTCOURSE_PROFILE=ci to use the offline generated data."
    )


# ---------------------------------------------------------------------------------------------
# IMDB
def _imdb_folder(root: Path) -> Path:
    """The IMDB folder: FTCOURSE_IMDB_DIR, else `aclImdb`, else the one `aclImdb*` folder."""
    named = os.environ.get("FTCOURSE_IMDB_DIR", "").strip()
    if named:
        for path in (root / named, Path(named).expanduser()):
            if path.is_dir():
                return path
        raise _missing(f"IMDB folder {named!r} (named by FTCOURSE_IMDB_DIR)", root)
    if (root / "aclImdb").is_dir():
        return root / "aclImdb"
    found = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("aclImdb"))
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise FileNotFoundError(
            f"several IMDB folders in {root} ({names}); choose one with FTCOURSE_IMDB_DIR=<name>"
        )
    raise _missing("IMDB folder 'aclImdb' (or one named aclImdb*)", root)


def read_imdb_split(folder: Path, split: str) -> list[tuple[int, str]]:
    """Read `<folder>/<split>/{neg,pos}/*.txt` as (label, text): neg = 0, pos = 1 (seed 002).

    File names are sorted, negatives first as in the seed's `IMDBDataset`, so the order is the
    same on every machine (`os.listdir` order is not).
    """
    items: list[tuple[int, str]] = []
    for label, sub in enumerate(("neg", "pos")):
        path = Path(folder) / split / sub
        if not path.is_dir():
            raise _missing(f"IMDB folder {split}/{sub}", Path(folder))
        files = sorted(path.glob("*.txt"))
        if not files:
            raise FileNotFoundError(f"{path} holds no .txt reviews; is the IMDB copy complete?")
        items.extend((label, f.read_text(encoding="utf-8")) for f in files)
    return items


def load_imdb(profile: str | None = None) -> TextClassificationData:
    """IMDB movie reviews (0 = negative, 1 = positive), train and test, for the active profile."""
    if active_profile(profile) == "ci":
        train, test = _ci_imdb()
        source = f"generated (ci profile, seed {CI_SEED})"
    else:
        root = data_dir()
        if root is not None or os.environ.get("FTCOURSE_IMDB_DIR", "").strip():
            folder = _imdb_folder(root if root is not None else Path.cwd())
            source = f"{folder.name} in {folder.parent}"
        else:
            from ftcourse import download

            folder = download.fetch("aclImdb")
            source = f"downloaded aclImdb_v1.tar.gz ({folder})"
        train, test = read_imdb_split(folder, "train"), read_imdb_split(folder, "test")
    return TextClassificationData("imdb", train, test, list(IMDB_CLASSES), source)


# ---------------------------------------------------------------------------------------------
# AG News
def read_ag_news_csv(path: Path) -> list[tuple[int, str]]:
    """Read an `ag_news_csv` file (no header; class 1..4, title, description) as (label 0..3, text).

    The text is title and description joined by a space, as torchtext's AG_NEWS gave it
    (stripped, so an empty title leaves no leading space); labels are shifted to 0..3 here
    rather than in the collate function as the seed did.
    """
    items: list[tuple[int, str]] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if len(row) != 3:
                raise ValueError(f"{path}, line {number}: expected 3 columns (class, title, description), "
                                 f"got {len(row)}")
            try:
                label = int(row[0])
            except ValueError:
                raise ValueError(f"{path}, line {number}: class {row[0]!r} is not a number 1..4") from None
            if not 1 <= label <= 4:
                raise ValueError(f"{path}, line {number}: class {label} is outside 1..4")
            items.append((label - 1, f"{row[1]} {row[2]}".strip()))
    if not items:
        raise ValueError(f"{path} holds no rows")
    return items


def load_ag_news(profile: str | None = None, reactions: float = 0.0) -> TextClassificationData:
    """AG News (World, Sports, Business, Sci/Tech as labels 0..3), train and test.

    `reactions` shapes the generated `ci` news only (`corpora.generate_news`): chapters 02-04 pass
    `ftcourse.choose(ci=..., full=0.0)`.
    """
    if active_profile(profile) == "ci":
        train, test = _ci_ag_news(reactions)
        return TextClassificationData(
            "ag_news", train, test, list(AG_NEWS_CLASSES),
            f"generated (ci profile, seed {CI_SEED}" + (f", reactions {reactions:g})" if reactions else ")"),
        )
    if reactions:
        raise ValueError(f"reactions={reactions} shapes only the generated ci news; the real AG News has "
                         "no such stories: pass reactions=0.0 on the full profile")
    root = data_dir()
    if root is not None:
        folder = root / "ag_news_csv"
        if not folder.is_dir():
            raise _missing("AG News folder 'ag_news_csv'", root)
        source = f"ag_news_csv in {root}"
    else:
        from ftcourse import download

        folder = download.fetch("ag_news_csv")
        source = f"downloaded ag_news_csv ({folder})"
    for name in ("train.csv", "test.csv"):
        if not (folder / name).is_file():
            raise _missing(f"AG News file ag_news_csv/{name}", folder.parent)
    classes = list(AG_NEWS_CLASSES)
    if (folder / "classes.txt").is_file():
        classes = [c.strip() for c in (folder / "classes.txt").read_text(encoding="utf-8").splitlines() if c.strip()]
        if len(classes) != 4:
            raise ValueError(f"{folder / 'classes.txt'} names {len(classes)} classes; AG News has 4")
    train, test = read_ag_news_csv(folder / "train.csv"), read_ag_news_csv(folder / "test.csv")
    return TextClassificationData("ag_news", train, test, classes, source)


# ---------------------------------------------------------------------------------------------
# Yelp
def read_yelp_csv(path: Path) -> list[tuple[int, str]]:
    """Read a `yelp_review_full_csv` file (no header; class 1..5, text) as (label 0..4, text)."""
    items = []
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row_number, row in enumerate(csv.reader(handle), start=1):
            if len(row) != 2 or row[0].strip() not in {"1", "2", "3", "4", "5"}:
                raise ValueError(
                    f"{path}:{row_number}: expected '\"class 1-5\",\"text\"', got {row[:2]!r}; "
                    "is this yelp_review_full_csv/train.csv or test.csv?"
                )
            items.append((int(row[0]) - 1, row[1]))
    if not items:
        raise ValueError(f"{path} holds no reviews")
    return items


def load_yelp(profile: str | None = None) -> TextClassificationData:
    """Yelp reviews, 5 classes (1-5 stars as 0-4), train and test, for the profile (chapter 08)."""
    if active_profile(profile) == "ci":
        n_train, n_test = corpora.YELP_SIZES
        return TextClassificationData("yelp", corpora.generate_yelp(n_train, 0), corpora.generate_yelp(n_test, 1),
                                      list(YELP_CLASSES), "generated (ci profile, seed 0)")
    root = data_dir()
    if root is not None:
        folder = root / "yelp_review_full_csv"
        if not (folder / "train.csv").is_file() or not (folder / "test.csv").is_file():
            raise FileNotFoundError(
                f"yelp_review_full_csv/{{train,test}}.csv not found in {root} (FTCOURSE_DATA_DIR). "
                "Put a copy there, unset FTCOURSE_DATA_DIR to download, or set FTCOURSE_PROFILE=ci."
            )
        return TextClassificationData("yelp", read_yelp_csv(folder / "train.csv"),
                                      read_yelp_csv(folder / "test.csv"), list(YELP_CLASSES), str(folder))
    from ftcourse.hub import load_hub_dataset

    hub = load_hub_dataset("Yelp/yelp_review_full")
    split = {name: list(zip(hub[name]["label"], hub[name]["text"])) for name in ("train", "test")}
    return TextClassificationData("yelp", split["train"], split["test"], list(YELP_CLASSES),
                                  "hub: Yelp/yelp_review_full")


def to_dataset_dict(data: TextClassificationData):
    """A `datasets.DatasetDict` (text, label as ClassLabel) of a (label, text) dataset (chapters 08, 09)."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=list(data.classes))})
    return DatasetDict({
        split: Dataset.from_dict(
            {"text": [t for _, t in items], "label": [y for y, _ in items]}, features=features
        )
        for split, items in (("train", data.train), ("test", data.test))
    })


# ---------------------------------------------------------------------------------------------
# GloVe
def glove_path(profile: str | None = None) -> Path:
    """The GloVe text file `glove()` reads (generating it first on the `ci` profile)."""
    if active_profile(profile) == "ci":
        return _ci_glove_file()
    root = data_dir()
    named = os.environ.get("FTCOURSE_GLOVE", "").strip()
    if named and Path(named).expanduser().is_file():
        return Path(named).expanduser()
    if root is not None:
        path = root / "glove" / (named or GLOVE_DEFAULT)
        if not path.is_file():
            raise _missing(f"GloVe file glove/{path.name} (FTCOURSE_GLOVE names another)", root)
        return path
    from ftcourse import download

    path = download.fetch("glove.6B") / (named or GLOVE_DEFAULT)
    if not path.is_file():
        raise FileNotFoundError(
            f"FTCOURSE_GLOVE={named!r} is neither an existing file nor one of the glove.6B files "
            f"in {path.parent}; name a GloVe text file, or set FTCOURSE_PROFILE=ci."
        )
    return path


def glove(profile: str | None = None) -> GloVe:
    """Word vectors for the profile: GloVe 6B 100d (`full`) or 50-d vectors learnt from the
    generated corpora (`ci`), both read by `ftcourse.text.load_glove`."""
    return load_glove(glove_path(profile))


def _ci_glove_file() -> Path:
    """Generate the `ci` vectors once; the file name hashes the settings and the corpus text,
    so a change to the generators makes a new file instead of reusing stale vectors."""
    splits = (*_ci_imdb_cached(CI_SEED), *_ci_ag_news_cached(CI_SEED, 0.0))  # as corpora.ci_texts
    texts = corpora.mix_evaluations([text for split in splits for _, text in split], seed=CI_SEED)
    digest = hashlib.sha256(
        f"v{corpora.VERSION} seed{CI_SEED} dim{CI_GLOVE_DIM} window{CI_GLOVE_WINDOW}".encode()
    )
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    path = cache_dir() / "ci" / f"glove.ci.{digest.hexdigest()[:12]}.{CI_GLOVE_DIM}d.txt"
    if not path.is_file():
        words, vectors = corpora.ppmi_svd_vectors(texts, dim=CI_GLOVE_DIM, window=CI_GLOVE_WINDOW)
        save_glove(words, path, vectors)
    return path


@lru_cache(maxsize=2)
def _ci_imdb_cached(seed: int) -> tuple[tuple[tuple[int, str], ...], tuple[tuple[int, str], ...]]:
    train, test = corpora.imdb_ci(seed)
    return tuple(train), tuple(test)


@lru_cache(maxsize=2)
def _ci_ag_news_cached(
    seed: int, reactions: float
) -> tuple[tuple[tuple[int, str], ...], tuple[tuple[int, str], ...]]:
    train, test = corpora.ag_news_ci(seed, reactions)
    return tuple(train), tuple(test)


def _ci_imdb() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    train, test = _ci_imdb_cached(CI_SEED)
    return list(train), list(test)


def _ci_ag_news(reactions: float = 0.0) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    train, test = _ci_ag_news_cached(CI_SEED, float(reactions))
    return list(train), list(test)


# ---------------------------------------------------------------------------------------------
# Splits and batches
def train_valid_split(
    items: Sequence,
    valid_fraction: float = 0.05,
    subsample: float | None = None,
    seed: int = 0,
) -> tuple[list, list]:
    """The seeds' `random_split`: (train, valid) with `valid_fraction` held out for validation.

    Sizes as the seed computes them: train gets `int(n * (1 - valid_fraction))`, valid the rest.
    `subsample` then keeps `int(n * subsample)` of the train part (the seed's "5% of the
    original size": 25,000 reviews -> 1,250). Deterministic from `seed`; global RNGs untouched.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    n = len(items)
    n_train = int(n * (1 - valid_fraction))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    train = [items[i] for i in order[:n_train]]
    valid = [items[i] for i in order[n_train:]]
    if subsample is not None:
        if not 0.0 < subsample <= 1.0:
            raise ValueError(f"subsample must be in (0, 1], got {subsample}")
        keep = int(n * subsample)
        if keep > len(train):
            raise ValueError(
                f"subsample={subsample} asks for {keep} items but the train part has {len(train)}"
            )
        train = train[:keep]  # already in random order: the first `keep` are a random subset
    return train, valid


# ---------------------------------------------------------------------------------------------
# Encoders: a `Vocab` (basic_english words to indices, chapters 02-04) or a Hugging Face
# tokenizer (word pieces with [CLS] and [SEP], chapters 05 and 13). Everything below takes either.
def _check_encoder(encoder) -> None:
    if isinstance(encoder, Vocab):
        return
    if not callable(encoder) or not hasattr(encoder, "pad_token_id"):
        raise TypeError(
            f"expected a ftcourse.text.Vocab or a Hugging Face tokenizer, got {type(encoder).__name__}; "
            "build one with glove.vocab(...) or ftcourse.hf.load_tokenizer(...)"
        )


def _check_max_length(encoder, max_length: int | None) -> None:
    least = 1 if isinstance(encoder, Vocab) else 2  # a tokenizer adds [CLS] and [SEP]
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                   or max_length < least):
        what = "tokens" if least == 1 else "tokens ([CLS] and [SEP])"
        raise ValueError(f"max_length must be at least {least} {what} or None, got {max_length!r}")


def pad_index(encoder) -> int:
    """The index that pads a batch: the vocabulary's `<pad>`, or the tokenizer's padding token."""
    _check_encoder(encoder)
    if isinstance(encoder, Vocab):
        return encoder.pad_index
    if encoder.pad_token_id is None:
        raise ValueError(
            f"tokenizer {getattr(encoder, 'name_or_path', '')!r} has no padding token; set one "
            "first (e.g. tokenizer.pad_token = tokenizer.eos_token for GPT-2-style tokenizers)"
        )
    return int(encoder.pad_token_id)


def encode(text: str, vocab: Vocab, max_length: int | None = None) -> list[int]:
    """Token indices of `text` (basic_english, then `vocab`), the first `max_length` of them.

    A text with no tokens at all becomes a single `<unk>`, so that no row of a batch is all
    padding (attention over nothing but masked positions gives NaN). Chapter 02.
    """
    _check_max_length(vocab, max_length)
    ids = vocab(basic_english(text))
    if max_length is not None:
        ids = ids[:max_length]
    if not ids:
        unk = vocab.get_default_index()
        ids = [unk if unk is not None else vocab["<unk>"]]
    return ids


def tokenize(tokenizer, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
    """Token ids of each text with a Hugging Face tokenizer, special tokens ([CLS] ... [SEP])
    included, cut to `max_length` (None: the tokenizer's own limit, 512 for BERT). Chapter 05."""
    _check_max_length(tokenizer, max_length)
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"tokenize expects strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
    if not texts:
        return []
    limit = max_length if max_length is not None else tokenizer.model_max_length
    return tokenizer(texts, truncation=True, max_length=limit)["input_ids"]


def encode_texts(texts: Sequence[str], encoder, max_length: int | None = None) -> list[list[int]]:
    """Token ids of each text with a `Vocab` (`encode`) or a tokenizer (`tokenize`)."""
    _check_encoder(encoder)
    if isinstance(encoder, Vocab):
        return [encode(text, encoder, max_length) for text in texts]
    return tokenize(encoder, texts, max_length)


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists to the longest: (ids [B, T], attention_mask [B, T], 1 on real tokens)."""
    if not rows:
        raise ValueError("pad_batch got no rows")
    if any(len(r) == 0 for r in rows):
        raise ValueError("pad_batch got an empty row; every text needs at least one token")
    ids = torch.full((len(rows), max(len(r) for r in rows)), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def collate_fn(encoder) -> Callable:
    """The collate function of `make_loader`: [(label, ids), ...] to `(labels, tokens)` with a
    `Vocab`, or `(labels, input_ids, attention_mask)` with a tokenizer (what the model takes)."""
    pad, with_mask = pad_index(encoder), not isinstance(encoder, Vocab)

    def collate(batch):
        labels = torch.tensor([label for label, _ in batch], dtype=torch.long)
        ids, mask = pad_batch([ids for _, ids in batch], pad)
        return (labels, ids, mask) if with_mask else (labels, ids)

    return collate


def collate_batch(batch: Sequence, encoder, max_length: int | None = None) -> tuple[torch.Tensor, ...]:
    """Turn [(label, text), ...] into a batch on the CPU, as `make_loader` gives it.

    Pads with the encoder's padding index (`<pad>` for a Vocab: the seeds padded with 0, which is
    `<unk>`, so their models could not tell padding from unknown words). Texts are cut to
    `max_length` tokens; a text may also be given already encoded (a list of token indices).
    """
    if not batch:
        raise ValueError("collate_batch got an empty batch")
    rows = []
    for _, text in batch:
        if isinstance(text, str):
            rows.extend(encode_texts([text], encoder, max_length))
        else:
            ids = list(text)[:max_length] if max_length is not None else list(text)
            if not ids:
                raise ValueError("collate_batch got an encoded text with no tokens; use encode()")
            rows.append(ids)
    return collate_fn(encoder)([(int(label), ids) for (label, _), ids in zip(batch, rows)])


def encode_batch(texts: Sequence[str], encoder, max_length: int | None = None) -> tuple[torch.Tensor, ...]:
    """Raw texts to a model's inputs, padded to the longest: `(tokens,)` with a Vocab,
    `(input_ids, attention_mask)` with a tokenizer. What `ftcourse.train.predict` feeds the model."""
    texts = list(texts)
    if not texts:
        raise ValueError("encode_batch got no texts")
    _, *inputs = collate_batch([(0, text) for text in texts], encoder, max_length)
    return tuple(inputs)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose texts have similar lengths, so little of each batch is padding.

    Each epoch: shuffle all indices, cut them into pools of `pool_batches` batches, sort each
    pool by length, cut it into batches, shuffle the order of the batches. Every index appears
    exactly once per epoch. The order depends only on (seed, epoch); the epoch advances by one
    each time the sampler is iterated, or is set with `set_epoch` (as DistributedSampler's).
    With `shuffle=False` the batches simply follow length order (for fast evaluation).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        pool_batches: int = 50,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if pool_batches < 1:
            raise ValueError(f"pool_batches must be >= 1, got {pool_batches}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration gives."""
        self.epoch = epoch

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches of `epoch` (the same list every time for the same seed and epoch)."""
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return self._cut(order)
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(n)
        pool = self.batch_size * self.pool_batches
        batches: list[list[int]] = []
        for start in range(0, n, pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(self._cut(chunk))
        return [batches[i] for i in rng.permutation(len(batches))]

    def _cut(self, order: np.ndarray) -> list[list[int]]:
        out = [order[i : i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        if self.drop_last and out and len(out[-1]) < self.batch_size:
            out.pop()
        return out

    def __iter__(self) -> Iterator[list[int]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        yield from self.batches(epoch)

    def __len__(self) -> int:
        n = len(self.lengths)
        if not self.shuffle:
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        full_pools, rest = divmod(n, self.batch_size * self.pool_batches)
        count = full_pools * self.pool_batches
        if rest:
            count += rest // self.batch_size if self.drop_last else -(-rest // self.batch_size)
        return count


class EncodedDataset(torch.utils.data.Dataset):
    """(label, token ids) pairs, tokenised once with a `Vocab` or a tokenizer."""

    def __init__(self, items: Sequence[tuple[int, str]], encoder, max_length: int | None = None) -> None:
        self.labels = [int(label) for label, _ in items]
        self.ids = encode_texts([text for _, text in items], encoder, max_length)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[int, list[int]]:
        return self.labels[index], self.ids[index]


def make_loader(
    items: Sequence[tuple[int, str]],
    encoder,
    batch_size: int = 32,
    *,
    shuffle: bool = False,
    max_length: int | None = None,
    bucket: bool = True,
    seed: int = 0,
) -> DataLoader:
    """A DataLoader over (label, text) items, tokenised once, for `ftcourse.train.fit`.

    `encoder` is a `Vocab` (batches `(labels, tokens)`, chapters 02-04) or a Hugging Face
    tokenizer (batches `(labels, input_ids, attention_mask)`, chapters 05 and 13); texts are cut
    to `max_length` tokens. With `bucket=True`, batches hold texts of similar length
    (`BucketBatchSampler`), so little compute goes to padding; with `shuffle=False` they then
    come in length order, not in the items' order: use `bucket=False` where predictions must
    line up with `items`.
    """
    if len(items) == 0:
        raise ValueError("make_loader got no items")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dataset = EncodedDataset(items, encoder, max_length)
    collate = collate_fn(encoder)
    if bucket:
        sampler = BucketBatchSampler([len(ids) for ids in dataset.ids], batch_size, shuffle=shuffle, seed=seed)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate)


class SplitLoaders(NamedTuple):
    """The train, validation and test loaders of one dataset."""

    train: DataLoader
    valid: DataLoader
    test: DataLoader


def split_loaders(
    dataset: TextClassificationData,
    encoder,
    batch_size: int = 32,
    max_length: int | None = None,
    valid_fraction: float = 0.05,
    seed: int = 0,
) -> SplitLoaders:
    """The seeds' set-up in one call: split `dataset.train` 95/5 (`train_valid_split`), then a
    shuffled, bucketed train loader and validation and test loaders (`make_loader`)."""
    train, valid = train_valid_split(dataset.train, valid_fraction=valid_fraction, seed=seed)
    return SplitLoaders(
        make_loader(train, encoder, batch_size, shuffle=True, max_length=max_length, seed=seed),
        make_loader(valid, encoder, batch_size, max_length=max_length),
        make_loader(dataset.test, encoder, batch_size, max_length=max_length),
    )
