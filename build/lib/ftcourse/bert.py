"""BERT-family encoders for classification: tokenised loaders, layer truncation, strategies.

Chapter 05 fine-tunes a pre-trained encoder four ways (seed 000): full fine-tuning, the head
alone, bottleneck adapters and LoRA on query/value. This module holds what that takes besides
the model classes (`ftcourse.models.EncoderClassifier`) and the adaptation methods
(`ftcourse.adapt`):
- `make_loader`: (label, text) items to batches of `(labels, input_ids, attention_mask)`, which
  `ftcourse.train.fit` and `evaluate` pass to the model as `model(input_ids, attention_mask)`.
  Texts are tokenised once with the Hugging Face tokenizer; each batch is padded to its longest
  text, and batches group texts of similar length (`ftcourse.data.BucketBatchSampler`).
- `encode_batch` and `predict` for raw texts.
- `truncate_layers`: keep the first N layers of an encoder (a smaller, faster stand-in).
- `build_classifier`: an `EncoderClassifier` set up for one of `STRATEGIES`, with the
  parameter counts before freezing, after freezing and after adding the method's modules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ftcourse.adapt import ParameterCount, count_parameters, freeze, unfreeze
from ftcourse.adapt.adapters import add_bert_adapters
from ftcourse.adapt.lora import apply_lora
from ftcourse.data import BucketBatchSampler
from ftcourse.models import EncoderClassifier, mean_pool

STRATEGIES = ("full", "head_only", "adapters", "lora")
POOLINGS = ("cls", "mean")


def _pad_id(tokenizer) -> int:
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        raise ValueError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no padding token; set one "
            "first (e.g. tokenizer.pad_token = tokenizer.eos_token for GPT-2-style tokenizers)"
        )
    return int(pad)


def _check_max_length(max_length: int | None) -> None:
    if max_length is not None and (not isinstance(max_length, int) or max_length < 2):
        raise ValueError(
            f"max_length must be at least 2 tokens ([CLS] and [SEP]) or None, got {max_length!r}"
        )


def tokenize(tokenizer, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
    """Token ids of each text, with the special tokens ([CLS] ... [SEP]), cut to `max_length`.

    `max_length=None` cuts at the tokenizer's own limit (512 for BERT) so that no text is longer
    than the model's position embeddings.
    """
    _check_max_length(max_length)
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"tokenize expects strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
    if not texts:
        return []
    limit = max_length if max_length is not None else tokenizer.model_max_length
    return tokenizer(texts, truncation=True, max_length=limit)["input_ids"]


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists to the longest: (input_ids [B, T], attention_mask [B, T])."""
    if not rows:
        raise ValueError("pad_batch got no rows")
    if any(len(r) == 0 for r in rows):
        raise ValueError("pad_batch got an empty row; every text needs at least its special tokens")
    ids = torch.full((len(rows), max(len(r) for r in rows)), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def encode_batch(
    tokenizer, texts: Sequence[str], max_length: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw texts to `(input_ids, attention_mask)`, padded to the longest, ready for the model."""
    rows = tokenize(tokenizer, texts, max_length)
    if not rows:
        raise ValueError("encode_batch got no texts")
    return pad_batch(rows, _pad_id(tokenizer))


class TokenizedDataset(Dataset):
    """(label, token ids) pairs, tokenised once with a Hugging Face tokenizer."""

    def __init__(self, items: Sequence[tuple[int, str]], tokenizer, max_length: int | None = None) -> None:
        self.labels = [int(label) for label, _ in items]
        self.ids = tokenize(tokenizer, [text for _, text in items], max_length)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[int, list[int]]:
        return self.labels[index], self.ids[index]


def collate_fn(pad_id: int) -> Callable:
    """The collate function of `make_loader`: [(label, ids), ...] -> (labels, input_ids, attention_mask)."""

    def collate(batch):
        labels = torch.tensor([label for label, _ in batch], dtype=torch.long)
        return (labels, *pad_batch([ids for _, ids in batch], pad_id))

    return collate


def make_loader(
    items: Sequence[tuple[int, str]],
    tokenizer,
    batch_size: int = 16,
    shuffle: bool = False,
    max_length: int | None = None,
    bucket: bool = True,
    seed: int = 0,
) -> DataLoader:
    """A DataLoader of `(labels, input_ids, attention_mask)` batches over (label, text) items.

    Works with `ftcourse.train.fit/evaluate` and an `EncoderClassifier`. With `bucket=True`
    (default) batches hold texts of similar length, so little compute goes to padding; with
    `shuffle=False` they then come in length order, not in the items' order: pass
    `bucket=False` when predictions must line up with `items`.
    """
    if len(items) == 0:
        raise ValueError("make_loader got no items")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dataset = TokenizedDataset(items, tokenizer, max_length)
    collate = collate_fn(_pad_id(tokenizer))
    if bucket:
        sampler = BucketBatchSampler([len(r) for r in dataset.ids], batch_size, shuffle=shuffle, seed=seed)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate
    )


@torch.no_grad()
def predict(
    model: nn.Module,
    tokenizer,
    texts: str | Sequence[str],
    classes: Sequence[str],
    max_length: int | None = None,
) -> list[str]:
    """The class names `model` (called as `model(input_ids, attention_mask)`) gives to raw texts."""
    if isinstance(texts, str):
        texts = [texts]
    if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
        raise ValueError("predict() needs non-empty texts; pass the reviews or articles to classify")
    input_ids, attention_mask = encode_batch(tokenizer, texts, max_length)
    device = next(model.parameters()).device
    model.eval()
    logits = model(input_ids.to(device), attention_mask.to(device))
    if logits.shape[-1] != len(classes):
        raise ValueError(
            f"the model's head has {logits.shape[-1]} outputs but {len(classes)} class names were given "
            f"({list(classes)}); pass the classes of the task the head was trained on"
        )
    return [classes[int(i)] for i in logits.argmax(dim=-1)]


def truncate_layers(encoder: nn.Module, num_layers: int) -> nn.Module:
    """Keep only the first `num_layers` Transformer layers of a BERT-style encoder, in place.

    The embeddings, the kept layers and the pooler keep their pre-trained weights; the config's
    `num_hidden_layers` is updated so that the model saves and reloads with its new depth.
    Returns the encoder.
    """
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(
            f"{type(encoder).__name__} has no encoder.layer list; pass a BERT-style encoder "
            "(BertModel, AutoModel of a BERT checkpoint), not a model with a task head"
        )
    if not isinstance(num_layers, int) or not 1 <= num_layers <= len(layers):
        raise ValueError(f"num_layers must be between 1 and {len(layers)}, got {num_layers!r}")
    encoder.encoder.layer = nn.ModuleList(list(layers)[:num_layers])
    if getattr(encoder, "config", None) is not None:
        encoder.config.num_hidden_layers = num_layers
    return encoder


class MeanPoolingClassifier(EncoderClassifier):
    """`EncoderClassifier` whose head reads the average of the real tokens' hidden states
    (padding excluded) instead of the [CLS] token's.

    Sentence-transformers models such as all-MiniLM-L6-v2 were trained through that average,
    so it is what their pre-training made meaningful; BERT's [CLS] was trained (next-sentence
    prediction) to summarise the input. Same modules, names and parameter counts as
    `EncoderClassifier`, so freezing, adapters and LoRA apply unchanged.
    """

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return mean_pool(hidden, attention_mask)


def build_classifier(
    encoder: nn.Module,
    strategy: str,
    num_class: int,
    *,
    dropout: float = 0.1,
    bottleneck: int = 64,
    rank: int = 8,
    alpha: float = 32,
    lora_targets: Sequence[str] = ("query", "value"),
    pooling: str = "cls",
    copy_encoder: bool = True,
) -> tuple[EncoderClassifier, dict[str, ParameterCount]]:
    """An `EncoderClassifier` around `encoder`, set up for one of `STRATEGIES` (seed 000):

    - `full`: everything trains;
    - `head_only`: the encoder is frozen, only the new [CLS] head trains;
    - `adapters`: Houlsby bottleneck adapters (size `bottleneck`) after the attention and the
      feed-forward block of every layer, plus the head;
    - `lora`: LoRA (`rank`, `alpha`) on `lora_targets` (query and value), plus the head.

    `pooling="cls"` is seed 000's head on the [CLS] token (`EncoderClassifier`); `"mean"` reads
    the average over the real tokens (`MeanPoolingClassifier`). The encoder is deep-copied
    first unless `copy_encoder=False`, so one pre-trained encoder serves every strategy.
    Returns the model and its parameter counts at each step: "before freezing", "after
    freezing" and, for adapters and LoRA, "after adding <method>".
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
    cls = EncoderClassifier if pooling == "cls" else MeanPoolingClassifier
    model = cls(copy.deepcopy(encoder) if copy_encoder else encoder, num_class, dropout)
    model.requires_grad_(True)  # a fresh start whatever the encoder's flags were
    stages = {"before freezing": count_parameters(model)}
    if strategy == "full":
        return model, stages
    freeze(model)
    unfreeze(model, "classifier.*")
    stages["after freezing"] = count_parameters(model)
    if strategy == "adapters":
        add_bert_adapters(model, bottleneck=bottleneck, train_modules=("classifier",))
        stages["after adding adapters"] = count_parameters(model)
    elif strategy == "lora":
        apply_lora(model, list(lora_targets), rank=rank, alpha=alpha, train_modules=("classifier",))
        stages["after adding LoRA"] = count_parameters(model)
    return model, stages


__all__ = [
    "POOLINGS",
    "STRATEGIES",
    "MeanPoolingClassifier",
    "TokenizedDataset",
    "build_classifier",
    "collate_fn",
    "encode_batch",
    "make_loader",
    "mean_pool",
    "pad_batch",
    "predict",
    "tokenize",
    "truncate_layers",
]
