"""A plain PyTorch loop for Hugging Face models, and the evaluation tools around it.

`train_loop` is the loop of chapter 08 written out: AdamW, a learning-rate schedule, and for every
batch `zero_grad`, forward, `backward`, `step`, `scheduler.step`. It runs through
`accelerate.Accelerator`, so the same function trains on a CPU, one GPU (with mixed precision when
asked), or several GPUs under `accelerate launch` / `torchrun` without a change. It returns the
same `ftcourse.train.History` as `fit`. `evaluate_accuracy` gathers predictions from every process
with their own labels (`ftcourse.train.predictions`), so they always line up. Chapter 09 adds
`compute_metrics` for the `Trainer`, feature extraction (`extract_features`, `FeatureHead`) and
the confusion matrix and classification report (its plot: `ftcourse.plots.plot_confusion_matrix`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ftcourse._env import training_precision
from ftcourse.models import mean_pool
from ftcourse.train import History, predictions

try:  # widget bars in Jupyter when ipywidgets is there; else text bars, without tqdm's warning
    import ipywidgets  # noqa: F401
    from tqdm.auto import tqdm
except ImportError:
    from tqdm import tqdm


def _accelerator(accelerator=None):
    if accelerator is not None:
        return accelerator
    from accelerate import Accelerator

    if os.environ.get("ACCELERATE_MIXED_PRECISION"):  # `accelerate launch --mixed_precision` decides
        return Accelerator()
    return Accelerator(mixed_precision=training_precision().accelerate_mixed_precision)


def _loss_of(outputs) -> torch.Tensor:
    loss = outputs.get("loss") if isinstance(outputs, Mapping) else getattr(outputs, "loss", None)
    if loss is None:
        raise ValueError(
            "the model returned no loss: each batch must hold the targets under the key 'labels' "
            "(rename the dataset's 'label' column: dataset.rename_column('label', 'labels'))"
        )
    return loss


def train_loop(
    model: nn.Module,
    train_loader,
    optimizer: torch.optim.Optimizer,
    scheduler=None,
    *,
    epochs: int = 1,
    eval_loader=None,
    num_classes: int | None = None,
    clip: float | None = None,
    accelerator=None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train a Hugging Face model on batches of tensors (dicts with `labels`); one bar over all steps.

    The scheduler is stepped after every batch: build it for `epochs * len(train_loader)` steps
    (e.g. `transformers.get_scheduler("linear", optimizer, 0, epochs * len(train_loader))`). Under
    several processes each one sees a shard of the batches and accelerate steps the scheduler once
    per process, so the same count holds. With `eval_loader`, the accuracy over it is measured
    after every epoch (`num_classes` is then required). The model is trained in place. Returns a
    `History` whose `loss` is the mean training loss per batch of each epoch.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if eval_loader is not None and num_classes is None:
        raise ValueError("give num_classes to measure the accuracy on eval_loader after each epoch")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("the model has no trainable parameters: unfreeze something before training")
    accelerator = _accelerator(accelerator)
    if scheduler is None:
        model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    else:
        model, optimizer, train_loader, scheduler = accelerator.prepare(
            model, optimizer, train_loader, scheduler
        )
    if eval_loader is not None:
        eval_loader = accelerator.prepare_data_loader(eval_loader)
    history = History()
    bar = tqdm(
        total=epochs * len(train_loader),
        desc=desc,
        disable=not (progress and accelerator.is_local_main_process),
    )
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        total, batches = 0.0, 0
        for batch in train_loader:
            optimizer.zero_grad()
            outputs = model(**batch)
            loss = _loss_of(outputs)
            accelerator.backward(loss)
            if clip is not None:
                accelerator.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item()
            batches += 1
            history.steps += 1
            bar.update(1)
        history.loss.append(total / max(batches, 1))
        if eval_loader is not None:
            preds, labels = predictions(model, eval_loader, gather=accelerator.gather_for_metrics)
            history.val_acc.append(_accuracy(preds, labels, num_classes))
        history.epoch_seconds.append(time.perf_counter() - start)
        postfix = {"loss": f"{history.loss[-1]:.3f}"}
        if history.val_acc:
            postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
        bar.set_postfix(postfix)
    bar.close()
    return history


def fine_tune(model: nn.Module, train_loader, *, lr: float, epochs: int = 1, warmup_steps: int = 0,
              **loop_kwargs) -> History:
    """Chapter 08's recipe in one call: AdamW at `lr` on the trainable parameters, a learning rate
    that falls linearly to zero over all steps, then `train_loop` (`loop_kwargs` go to it)."""
    from transformers import get_scheduler

    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}; the chapters use 5e-5 for a pretrained encoder")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=warmup_steps,
                              num_training_steps=epochs * len(train_loader))
    return train_loop(model, train_loader, optimizer, scheduler, epochs=epochs, **loop_kwargs)


def _accuracy(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    from torchmetrics.classification import MulticlassAccuracy

    # average="micro" is plain accuracy (correct / all). MulticlassAccuracy's own default is
    # "macro" (the mean of per-class recalls); torchmetrics.Accuracy(task="multiclass") uses micro.
    metric = MulticlassAccuracy(num_classes=num_classes, average="micro")
    metric.update(preds, labels)
    return float(metric.compute())


def evaluate_accuracy(model: nn.Module, loader, num_classes: int, accelerator=None) -> float:
    """Accuracy over a loader of dict batches with `labels`, accumulated with torchmetrics'
    `MulticlassAccuracy` (micro average), on one process or gathered from several. Chapter 08."""
    preds, labels = predictions(model, loader, accelerator=_accelerator(accelerator))
    return _accuracy(preds, labels, num_classes)


# ---------------------------------------------------------------------------------------------
# From texts to batches
def tokenize_dataset(dataset, tokenizer, max_length: int | None = None, text_column: str = "text"):
    """Tokenize a `datasets` Dataset/DatasetDict for a model: ids and masks, `labels`, torch format.

    Texts are truncated to `max_length` (default: the tokenizer's limit) but not padded: a
    `DataCollatorWithPadding` pads each batch to its own longest text, where padding every text to
    512 tokens (the seed's `padding="max_length"`) computes mostly padding.
    """
    columns = dataset.column_names
    columns = next(iter(columns.values())) if isinstance(columns, Mapping) else columns
    if text_column not in columns or "label" not in columns:
        raise ValueError(f"expected the columns {text_column!r} and 'label', got {columns}")
    limit = max_length or tokenizer.model_max_length

    def encode(batch):
        return tokenizer(batch[text_column], truncation=True, max_length=limit)

    tokenized = dataset.map(encode, batched=True, remove_columns=[text_column])
    tokenized = tokenized.rename_column("label", "labels")
    tokenized.set_format("torch")
    return tokenized


# ---------------------------------------------------------------------------------------------
# Metrics for the Trainer and for reports
def classification_metrics(y_true, y_pred) -> dict[str, float]:
    """Accuracy and macro-F1 (each class's F1 weighs the same, however rare) with scikit-learn."""
    from sklearn.metrics import accuracy_score, f1_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(
            f"need as many predictions as labels (and some): got {y_pred.shape} and {y_true.shape}"
        )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro")),
    }


def compute_metrics(eval_pred) -> dict[str, float]:
    """The `Trainer`'s `compute_metrics`: logits and labels in, accuracy and macro-F1 out."""
    logits, labels = eval_pred[0], eval_pred[1]
    if isinstance(logits, (tuple, list)):  # models that also return hidden states
        logits = logits[0]
    return classification_metrics(labels, np.argmax(logits, axis=-1))


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class; every class has its row and column."""
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    return sk_confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=list(range(num_classes)))


def classification_report(y_true, y_pred, classes: Sequence[str], digits: int = 3) -> str:
    """scikit-learn's report with each class named; a class absent from both lists keeps its row.

    `labels=range(len(classes))` ties each name to its index: without it scikit-learn names only
    the classes it sees, and one missing class shifts every name after it (or raises).
    """
    from sklearn.metrics import classification_report as sk_report

    return sk_report(
        np.asarray(y_true),
        np.asarray(y_pred),
        labels=list(range(len(classes))),
        target_names=list(classes),
        digits=digits,
        zero_division=0,
    )


# ---------------------------------------------------------------------------------------------
# Feature extraction: a frozen encoder, features computed once, a small head trained on them
@dataclass
class Features:
    """What a frozen encoder gives for each text: its [CLS] vector, its mean token vector, its label."""

    cls: torch.Tensor
    mean: torch.Tensor
    labels: torch.Tensor

    def pooled(self, pooling: str) -> torch.Tensor:
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        return self.cls if pooling == "cls" else self.mean


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    dataset,
    collate_fn,
    batch_size: int = 64,
    progress: bool = True,
    desc: str = "features",
) -> Features:
    """Run a frozen encoder once over a tokenized dataset (rows with `input_ids` and `labels`).

    Keeps two summaries of each text: the first token's vector (the [CLS] position) and the
    average over its real tokens (padding excluded). The encoder is put in eval mode (no dropout):
    frozen means a fixed function, so the features are computed once and reused every epoch.
    Texts are batched shortest first, so a batch pads little; the rows come back in the dataset's
    order. `collate_fn` pads a list of rows (e.g. `DataCollatorWithPadding(tokenizer)`).
    """
    if len(dataset) == 0:
        raise ValueError("the dataset is empty: there is nothing to extract features from")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    encoder.eval()
    device = next(encoder.parameters()).device
    lengths = [len(ids) for ids in dataset["input_ids"]]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    cls, mean, labels = [], [], []
    for start in tqdm(range(0, len(order), batch_size), desc=desc, disable=not progress):
        batch = collate_fn([dataset[i] for i in order[start : start + batch_size]])
        if "labels" not in batch:
            raise ValueError("each row needs its target under 'labels'")
        inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
        hidden = encoder(**inputs).last_hidden_state
        cls.append(hidden[:, 0].float().cpu())
        mean.append(mean_pool(hidden, inputs["attention_mask"]).float().cpu())
        labels.append(torch.as_tensor(batch["labels"]).cpu())
    back = torch.empty(len(order), dtype=torch.long)
    back[torch.tensor(order)] = torch.arange(len(order))  # sorted position of each dataset row
    return Features(torch.cat(cls)[back], torch.cat(mean)[back], torch.cat(labels)[back])


class FeatureDataset(torch.utils.data.Dataset):
    """Pre-computed features and their labels as `{"features", "labels"}` items for a DataLoader."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        if len(features) != len(labels):
            raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
        self.features, self.labels = features, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"features": self.features[index], "labels": self.labels[index]}


class FeatureHead(nn.Module):
    """Seed 001's `ClsHead`: dropout and a Linear layer on a pooled feature vector.

    It returns a `SequenceClassifierOutput` (with the cross-entropy loss when `labels` are given),
    as a Hugging Face model does, so `train_loop` and `ftcourse.train.predictions` train and test it unchanged.
    """

    def __init__(self, hidden: int, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"num_labels must be at least 2, got {num_labels}")
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, num_labels)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None):
        from transformers.modeling_outputs import SequenceClassifierOutput

        if features.shape[-1] != self.fc.in_features:
            raise ValueError(
                f"features have {features.shape[-1]} dimensions; the head expects {self.fc.in_features}"
            )
        logits = self.fc(self.dropout(features))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)



def feature_loader(features: Features, pooling: str, *, batch_size: int = 32, shuffle: bool = False,
                   seed: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader over one split's pre-computed features (`"cls"` or `"mean"` vectors) and labels,
    shuffled from `seed` when `shuffle`. Chapter 09."""
    return torch.utils.data.DataLoader(
        FeatureDataset(features.pooled(pooling), features.labels),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
    )


def train_feature_head(features: Mapping[str, Features], pooling: str, num_classes: int, *, lr: float = 1e-3,
                       epochs: int = 20, seed: int = 0, **loop_kwargs) -> tuple[FeatureHead, History]:
    """Feature extraction's cheap half (chapter 09): a `FeatureHead` trained with `fine_tune` on the
    `pooling` vectors of `features["train"]`, validated on `features["validation"]` each epoch."""
    from ftcourse._env import set_seed

    missing = {"train", "validation"} - set(features)
    if missing:
        raise KeyError(f"features lacks the splits {sorted(missing)}: pass extract_features' output per split")
    set_seed(seed)
    head = FeatureHead(features["train"].pooled(pooling).shape[-1], num_classes)
    history = fine_tune(head, feature_loader(features["train"], pooling, shuffle=True, seed=seed), lr=lr,
                        epochs=epochs, eval_loader=feature_loader(features["validation"], pooling),
                        num_classes=num_classes, **loop_kwargs)
    return head, history

__all__ = [
    "FeatureDataset",
    "FeatureHead",
    "Features",
    "classification_metrics",
    "classification_report",
    "compute_metrics",
    "confusion_matrix",
    "evaluate_accuracy",
    "extract_features",
    "feature_loader",
    "fine_tune",
    "mean_pool",
    "tokenize_dataset",
    "train_feature_head",
    "train_loop",
]
