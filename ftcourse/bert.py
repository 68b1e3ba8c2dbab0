"""BERT-family encoders for classification: layer truncation, mean pooling, strategies.

Chapter 05 fine-tunes a pre-trained encoder four ways (seed 000): full fine-tuning, the head
alone, bottleneck adapters and LoRA on query/value. This module holds what that takes besides
the model classes (`ftcourse.models.EncoderClassifier`), the adaptation methods
(`ftcourse.adapt`) and the loaders (`ftcourse.data.make_loader` with the tokenizer, whose
batches `(labels, input_ids, attention_mask)` `ftcourse.train.fit` passes to the model as
`model(input_ids, attention_mask)`; `ftcourse.train.predict` for raw texts):
- `truncate_layers`: keep the first N layers of an encoder (a smaller, faster stand-in).
- `build_classifier`: an `EncoderClassifier` set up for one of `STRATEGIES`, with the
  parameter counts before freezing, after freezing and after adding the method's modules.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from ftcourse.adapt import ParameterCount, count_parameters, freeze, unfreeze
from ftcourse.adapt.adapters import add_bert_adapters
from ftcourse.adapt.lora import apply_lora
from ftcourse.models import EncoderClassifier, mean_pool

STRATEGIES = ("full", "head_only", "adapters", "lora")
POOLINGS = ("cls", "mean")


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
    num_classes: int,
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
    model = cls(copy.deepcopy(encoder) if copy_encoder else encoder, num_classes, dropout)
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
    "build_classifier",
    "mean_pool",
    "truncate_layers",
]
