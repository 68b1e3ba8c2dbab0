"""The training loop of the course: `fit`, and what every loop shares: `History`,
`predictions`, `evaluate`, `predict`.

`fit` keeps the seeds' recipe available (SGD with lr 1, gradient clipping at 0.1, validation
accuracy after each epoch, the best checkpoint kept) and chooses the device and mixed precision
for you. Taught in chapter 02; used by every chapter that trains by hand. Chapter 08's
`ftcourse.loops.train_loop` returns the same `History`.

One vocabulary for using a model:
- `predict(model, texts, encoder, classes)`: class names for raw texts;
- `predictions(model, loader)`: (predicted, true) labels over a loader;
- `evaluate(model, loader)`: the accuracy over a loader.
"""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

try:  # widget bars in Jupyter when ipywidgets is there; else text bars, without tqdm's warning
    import ipywidgets  # noqa: F401
    from tqdm.auto import tqdm
except ImportError:
    from tqdm import tqdm

from ftcourse._env import device as default_device
from ftcourse._env import training_precision
from ftcourse.results import atomic_write_bytes


@dataclass
class History:
    """What a training loop measured, one entry per epoch (`fit`, `loops.train_loop`).

    `loss` is the mean training loss of the epoch: the mean over its batches of each batch's
    loss, itself the mean over the batch's examples (cross-entropy's default). The seeds plotted
    the sum over batches, which grows with the number of batches; the mean does not.
    """

    loss: list[float] = field(default_factory=list)  # mean per batch (and per example) of the epoch
    val_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    steps: int = 0  # optimiser steps taken
    best_epoch: int | None = None  # 1-based
    best_val_acc: float | None = None
    checkpoint: str | None = None
    reused: bool = False  # True when ftcourse.runcache loaded this run instead of training it

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    def to_dict(self) -> dict:
        return asdict(self)


def _move(batch: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    return [t.to(device, non_blocking=True) for t in batch]


def _check_labels(logits: torch.Tensor, labels: torch.Tensor) -> None:
    num_classes = logits.shape[-1]
    top = int(labels.max())
    if top >= num_classes or int(labels.min()) < 0:
        raise ValueError(
            f"the model's head has {num_classes} outputs but the labels go up to {top}; "
            f"give the model a head with {top + 1} outputs (ftcourse.adapt.replace_head(model, {top + 1}))"
        )


def _autocast(device: torch.device, amp: bool | str):
    """The autocast dtype and loss scaler `training_precision` picks for `device` (nothing on CPU,
    MPS, or with amp=False): bf16 on GPUs that have it natively, fp16 with a GradScaler on others."""
    if amp == "auto":
        amp = device.type == "cuda"
    precision = training_precision(device)
    if not amp or precision.autocast_dtype is None:
        return None, None
    scaler = torch.amp.GradScaler("cuda") if precision.loss_scaling else None
    return precision.autocast_dtype, scaler


def _state_bytes(model: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _set_epoch(loader, epoch: int) -> None:
    """Give a shuffling sampler its epoch (as DistributedSampler needs): every `fit` then sees the
    same batch order in its epoch k, however often the loader was iterated before."""
    for sampler in (getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)


def fit(
    model: nn.Module,
    train_loader,
    valid_loader=None,
    epochs: int = 10,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1.0,
    clip: float | None = 0.1,
    loss_fn: Callable | None = None,
    scheduler=None,
    checkpoint: str | Path | None = None,
    restore_best: bool = True,
    device: torch.device | str | None = None,
    amp: bool | str = "auto",
    patience: int | None = None,
    progress: bool = True,
    desc: str = "epochs",
) -> History:
    """Train `model` on batches of `(labels, inputs)` and validate after every epoch.

    Defaults are the seeds' recipe: SGD(lr=1) over the trainable parameters, cross-entropy,
    `clip_grad_norm_(..., 0.1)`. When the validation accuracy improves the weights are kept
    (written atomically to `checkpoint` when given, else in memory) and restored at the end.
    With `patience`, training stops after that many epochs without a better validation accuracy.
    The labels are checked against the head's size on the first batch (a check on every batch
    would wait for the GPU at every step). `History.loss` holds the mean loss per batch.
    A train loader whose sampler has `set_epoch` (ftcourse's bucketing sampler, DistributedSampler)
    gets epoch 0, 1, ... at the start of each epoch, so runs on one loader see the same orders.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(
            "the model has no trainable parameters: everything is frozen. "
            "Unfreeze something first (ftcourse.adapt.unfreeze or replace_head)."
        )
    optimizer = optimizer or torch.optim.SGD(params, lr=lr)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    amp_dtype, scaler = _autocast(device, amp)
    history = History(checkpoint=str(checkpoint) if checkpoint else None)
    best_state: dict | None = None

    bar = tqdm(range(1, epochs + 1), desc=desc, disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        _set_epoch(train_loader, epoch - 1)
        model.train()
        total, batches = 0.0, 0
        for labels, *inputs in train_loader:
            labels, *inputs = _move((labels, *inputs), device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = model(*inputs)
                if history.steps == 0:
                    _check_labels(logits, labels)
                loss = loss_fn(logits.float(), labels)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            total += loss.item()
            batches += 1
            history.steps += 1
        if scheduler is not None:
            scheduler.step()
        history.loss.append(total / max(batches, 1))

        if valid_loader is not None:
            acc = evaluate(model, valid_loader, device=device, amp=amp)
            history.val_acc.append(acc)
            if history.best_val_acc is None or acc > history.best_val_acc:
                history.best_val_acc, history.best_epoch = acc, epoch
                if checkpoint is not None:
                    atomic_write_bytes(Path(checkpoint), _state_bytes(model))
                elif restore_best:
                    best_state = copy.deepcopy(model.state_dict())
        history.epoch_seconds.append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{history.loss[-1]:.3f}",
                        val_acc=f"{history.val_acc[-1]:.3f}" if history.val_acc else "-")
        if patience is not None and history.best_epoch is not None and epoch - history.best_epoch >= patience:
            break

    if restore_best and history.best_epoch is not None:
        if checkpoint is not None:
            model.load_state_dict(torch.load(checkpoint, map_location=device, weights_only=True))
        elif best_state is not None:
            model.load_state_dict(best_state)
    return history


def _logits_of(outputs) -> torch.Tensor:
    if isinstance(outputs, torch.Tensor):
        return outputs
    return outputs["logits"] if isinstance(outputs, Mapping) else outputs.logits


def _labels_and_logits(model: nn.Module, batch, device: torch.device | None):
    """Run one batch: `(labels, *inputs)` calls `model(*inputs)`; a dict with `labels` (Hugging
    Face style) calls `model(**inputs)` without them."""
    if isinstance(batch, Mapping):
        if "labels" not in batch:
            raise ValueError("each evaluation batch needs its targets under 'labels'")
        if device is not None:
            batch = {k: v.to(device) for k, v in batch.items()}
        labels = batch["labels"]
        return labels, _logits_of(model(**{k: v for k, v in batch.items() if k != "labels"}))
    labels, *inputs = _move(batch, device) if device is not None else batch
    return labels, _logits_of(model(*inputs))


@torch.no_grad()
def predictions(
    model: nn.Module,
    loader,
    device: torch.device | str | None = None,
    amp: bool | str = "auto",
    *,
    accelerator=None,
    gather: Callable | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and true labels over a loader, paired item by item (for accuracy, confusion
    matrices, reports). Chapters 02-05 and 08-09.

    Batches are `(labels, *inputs)` tuples (`ftcourse.data.make_loader`) or dicts with `labels`
    (a Hugging Face collator). With an `accelerate.Accelerator` (chapter 08) the model and loader
    are prepared by it and, under several processes, each process sends its predictions together
    with their labels, so the pairs stay intact, and the copies added to even out the last batch
    are dropped. (`gather=accelerator.gather_for_metrics` does the same for a model and loader
    already prepared, as inside `train_loop`.)
    """
    if accelerator is not None:
        model = accelerator.prepare_model(model, evaluation_mode=True)
        loader = accelerator.prepare_data_loader(loader)
        gather = accelerator.gather_for_metrics
    if gather is None:
        device = torch.device(device) if device is not None else default_device()
        model.to(device)
        amp_dtype, _ = _autocast(device, amp)
    else:  # accelerate has placed the model and the batches (and handles mixed precision)
        device, amp_dtype = None, None
    model.eval()
    preds, truth = [], []
    for batch in loader:
        with torch.autocast(device.type if device else "cpu", dtype=amp_dtype, enabled=amp_dtype is not None):
            labels, logits = _labels_and_logits(model, batch, device)
        if not preds:
            _check_labels(logits, labels)
        predicted = logits.argmax(dim=-1)
        if gather is not None:
            predicted, labels = gather((predicted, labels))
        preds.append(predicted.cpu())
        truth.append(labels.cpu())
    if not preds:
        raise ValueError("the loader yielded no batches; is the dataset empty?")
    return torch.cat(preds), torch.cat(truth)


def evaluate(model: nn.Module, loader, device: torch.device | str | None = None, amp: bool | str = "auto") -> float:
    """Accuracy of `model` over a loader (the share of correct predictions). Chapter 02."""
    preds, truth = predictions(model, loader, device=device, amp=amp)
    return float((preds == truth).float().mean())


@torch.no_grad()
def predict(
    model: nn.Module,
    texts: str | Sequence[str],
    encoder,
    classes: Sequence[str],
    *,
    max_length: int | None = None,
) -> list[str]:
    """The class names `model` gives to raw texts, one per text, encoded as in training: with a
    `Vocab` (chapters 02-04) or a Hugging Face tokenizer (chapter 05). A single string gives a
    list of one."""
    from ftcourse.data import encode_batch
    from ftcourse.text import Vocab, basic_english

    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
        raise ValueError("predict() got an empty text; pass the reviews or articles to classify")
    if isinstance(encoder, Vocab):
        empty = [t for t in texts if not basic_english(t)]
        if empty:
            raise ValueError(f"predict(): {empty[0]!r} has no tokens after tokenisation; "
                             "pass words to classify")
    device = next(model.parameters()).device
    model.eval()
    logits = _logits_of(model(*(t.to(device) for t in encode_batch(texts, encoder, max_length))))
    if logits.shape[-1] != len(classes):
        raise ValueError(
            f"the model's head has {logits.shape[-1]} outputs but {len(classes)} class names were given "
            f"({list(classes)}); pass the classes of the task the head was trained on"
        )
    return [classes[int(i)] for i in logits.argmax(dim=-1)]
