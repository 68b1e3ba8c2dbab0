"""The models of the course, written once: the seeds' `Net`, `TextClassifier` and `NNet`, done right.

`PositionalEncoding` (chapter 01), `TransformerClassifier` (chapter 02), `MeanEmbeddingClassifier`
and `LeNet` (chapter 04).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The [max_len, d_model] matrix PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...).

    Works for an odd `d_model` too (the seed's version fails there: it has one cosine column
    fewer than it has frequencies).
    """
    if max_len < 1 or d_model < 1:
        raise ValueError(f"max_len and d_model must be positive, got {max_len} and {d_model}")
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
    return pe


class PositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal encoding to [batch, seq, d_model] embeddings, then dropout."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        # A buffer: saved with the model and moved with .to(), never trained.
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model).unsqueeze(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.size(1) > self.pe.size(1):
            raise ValueError(
                f"sequence of {x.size(1)} tokens is longer than max_len={self.pe.size(1)}; "
                "truncate the input (make_loader(..., max_length=...)) or raise max_len"
            )
        return self.dropout(x + self.pe[:, : x.size(1)])


class TransformerClassifier(nn.Module):
    """The seeds' `Net`: frozen word vectors * sqrt(d), positional encoding, a Transformer
    encoder (2 layers, 2 heads, feed-forward 128, dropout 0.1), mean pooling, a linear head.

    Done right: batch-first, with a key padding mask, and the mean taken over real tokens only.
    `batch_first=False` rebuilds the seeds' mistake (a [batch, seq, dim] tensor read as
    [seq, batch, dim], no mask) so chapter 02 can show what it does.
    """

    def __init__(
        self,
        embeddings: torch.Tensor,
        num_classes: int,
        nhead: int = 2,
        dim_feedforward: int = 128,
        num_layers: int = 2,
        dropout: float = 0.1,
        pad_index: int = 1,
        freeze_embeddings: bool = True,
        max_len: int = 5000,
        batch_first: bool = True,
    ) -> None:
        super().__init__()
        if embeddings.dim() != 2:
            raise ValueError(f"embeddings must be a [vocab, dim] matrix, got shape {tuple(embeddings.shape)}")
        d_model = embeddings.shape[1]
        if d_model % nhead:
            raise ValueError(
                f"{nhead} attention heads do not divide the embedding size {d_model}; "
                "choose nhead that divides it (or vectors of an even dimension)"
            )
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        self.pad_index = pad_index
        self.batch_first = batch_first
        self.d_model = d_model
        self.emb = nn.Embedding.from_pretrained(embeddings.float(), freeze=freeze_embeddings, padding_idx=pad_index)
        self.pos_encoder = PositionalEncoding(d_model, max_len=max_len, dropout=dropout)
        layer = nn.TransformerEncoderLayer(
            d_model=d_model,
            nhead=nhead,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            batch_first=batch_first,
        )
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers=num_layers, enable_nested_tensor=False)
        self.classifier = nn.Linear(d_model, num_classes)

    def stages(self, tokens: torch.Tensor, head: bool = True) -> Iterator[tuple[str, torch.Tensor]]:
        """The forward pass one stage at a time, as (stage, output) pairs; chapter 02 prints the
        shape after each. `forward` and `features` run these same stages."""
        yield "token ids", tokens  # [batch, seq]
        x = self.emb(tokens)
        yield "GloVe embedding", x  # [batch, seq, d]
        x = x * math.sqrt(self.d_model)
        yield "scaled by sqrt(d)", x
        x = self.pos_encoder(x)
        yield "+ positional encoding", x
        if not self.batch_first:  # the seeds' version, kept only to show its effect
            x = self.transformer_encoder(x)
            yield "encoder (no mask; reads dim 0 as the sequence)", x
            x = x.mean(dim=1)
            yield "mean over dim 1, padding included", x
        else:
            padding = tokens == self.pad_index
            x = self.transformer_encoder(x, src_key_padding_mask=padding)
            yield "encoder with padding mask", x  # [batch, seq, d]
            keep = (~padding).unsqueeze(-1).to(x.dtype)
            x = (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
            yield "mean over real tokens", x  # [batch, d]
        if head:
            yield "linear head", self.classifier(x)  # [batch, classes]

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """The pooled [batch, d_model] representation the head classifies."""
        *_, (_, pooled) = self.stages(tokens, head=False)
        return pooled

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        *_, (_, logits) = self.stages(tokens)
        return logits


class MeanEmbeddingClassifier(nn.Module):
    """The seeds' `TextClassifier`: mean of the word vectors -> fc1 (128) -> ReLU -> fc2.

    The mean skips padding (the seed's included it, so a review's vector depended on the
    length of the longest review in its batch).
    """

    def __init__(
        self,
        embeddings: torch.Tensor,
        num_classes: int,
        hidden: int = 128,
        pad_index: int = 1,
        freeze_embeddings: bool = True,
    ) -> None:
        super().__init__()
        self.pad_index = pad_index
        self.embedding = nn.Embedding.from_pretrained(embeddings.float(), freeze=freeze_embeddings,
                                                      padding_idx=pad_index)
        self.fc1 = nn.Linear(embeddings.shape[1], hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        keep = (tokens != self.pad_index).unsqueeze(-1).float()
        x = (self.embedding(tokens) * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
        return self.fc2(self.relu(self.fc1(x)))


class LeNet(nn.Module):
    """The seeds' `NNet`: LeNet-5 for 1x32x32 images (conv 6@5x5, pool, conv 16@5x5, pool,
    fc 400->120->84->num_classes)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (32, 32):
            raise ValueError(f"LeNet expects 32x32 images, got {tuple(images.shape[-2:])}; resize them first")
        x = F.max_pool2d(F.relu(self.conv1(images)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class EncoderClassifier(nn.Module):
    """Seed 000's `ClassificationModel`: a Hugging Face encoder, dropout and a Linear head on the
    hidden state of the first ([CLS]) token. Chapter 05.

    `encoder` is any model returning `last_hidden_state` (a `BertModel`, an `AutoModel`); the
    head's input size comes from its config. With `BertModel(BertConfig())` and 2 classes:
    109,483,778 parameters, 1,538 of them in the head (the encoder's pooler is counted, as in
    the seed, though the [CLS] head does not use it).
    """

    def __init__(self, encoder: nn.Module, num_classes: int, dropout: float = 0.1) -> None:
        super().__init__()
        config = getattr(encoder, "config", None)
        hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None)
        if not isinstance(hidden, int):
            raise ValueError(
                f"cannot read the hidden size of {type(encoder).__name__}: pass a Hugging Face "
                "encoder (e.g. AutoModel.from_pretrained(...)) whose config has hidden_size"
            )
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        self.base_model = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:  # some encoders (DistilBERT) take no token types
            inputs["token_type_ids"] = token_type_ids
        hidden = self.base_model(**inputs).last_hidden_state
        return self.classifier(self.dropout(self.pool(hidden, attention_mask)))

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The vector the head reads: the first ([CLS]) token's hidden state, [B, T, D] -> [B, D]."""
        return hidden[:, 0]


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Average of `hidden` [B, T, D] over the positions where `attention_mask` is 1: [B, D]."""
    if attention_mask is None:
        return hidden.mean(dim=1)
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
