"""Train once, reuse everywhere: `fit_cached` is `ftcourse.train.fit` with a cache of its result.

Chapters 2 and 3 train the same AG News model and the same fine-tuning runs from it. With
`fit_cached`, the second chapter to ask for a run loads what the first one trained instead of
training it again. A run is reused only when everything that decides its outcome is the same:

- the model's class, every weight and buffer before training, and which parameters train;
- the training and validation data (every example the loaders' datasets hold) and how the
  loaders batch them;
- `fit`'s arguments, the random-number state at the call, the device type and the profile;
- the source of the ftcourse package (a changed training loop invalidates every stored run).

The stored result is what training changed (the trainable parameters and the buffers), the
history, and the random-number state training left behind, so the code after a reused run sees
the same random numbers as after a real one. Runs live in `ftcourse.cache_dir() / "runs"`. Two
processes asking for the same run at once (two chapters executed in parallel) take turns: the
second waits for the first and then loads its result.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from ftcourse._env import cache_dir, profile
from ftcourse.results import atomic_write_bytes, atomic_write_text
from ftcourse.train import History, fit

# fit's arguments that change its result; the rest (progress bars, labels) do not.
_IGNORED = {"progress", "desc"}
# Arguments a cache key cannot see into: a run given one of these is refused, not guessed at.
_UNKEYABLE = {"optimizer", "loss_fn", "scheduler", "checkpoint"}


def _package_digest() -> str:
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _update_tensor(digest, name: str, tensor: torch.Tensor) -> None:
    tensor = tensor.detach().cpu().contiguous()
    digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
    digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")


def _update_value(digest, value) -> None:
    """Hash an example from a dataset: tensors, numbers, strings and nested sequences of them."""
    if isinstance(value, torch.Tensor):
        _update_tensor(digest, "", value)
    elif isinstance(value, (list, tuple)):
        digest.update(f"[{len(value)}".encode())
        for item in value:
            _update_value(digest, item)
    elif isinstance(value, (int, float, str, bool)) or value is None:
        digest.update(repr(value).encode())
    else:
        raise TypeError(f"fit_cached cannot key a dataset example of type {type(value).__name__}; "
                        "use ftcourse.train.fit for this run")


def _update_loader(digest, loader) -> None:
    if loader is None:
        digest.update(b"no loader")
        return
    dataset = loader.dataset
    digest.update(f"{type(dataset).__qualname__}|{len(dataset)}|".encode())
    for index in range(len(dataset)):
        _update_value(digest, dataset[index])
    sampler = loader.batch_sampler if loader.batch_sampler is not None else loader.sampler
    # A sampler's epoch counter is left out: `fit` sets the epoch of every sampler that has one.
    settings = {k: v for k, v in sorted(vars(sampler).items()) if isinstance(v, (int, float, str, bool))
                and not (k == "epoch" and hasattr(sampler, "set_epoch"))}
    digest.update(f"{type(sampler).__qualname__}|{settings}|{loader.batch_size}|".encode())
    collate = getattr(loader.collate_fn, "__qualname__", type(loader.collate_fn).__qualname__)
    digest.update(collate.encode())
    for cell in getattr(loader.collate_fn, "__closure__", None) or ():  # e.g. the padding index
        with contextlib.suppress(ValueError):
            if isinstance(cell.cell_contents, (int, float, str, bool)):
                digest.update(repr(cell.cell_contents).encode())


def run_key(model: nn.Module, train_loader, valid_loader=None, **fit_kwargs) -> str:
    """The key under which `fit_cached` stores this run (see the module's docstring)."""
    unkeyable = sorted(k for k in _UNKEYABLE if fit_kwargs.get(k) is not None)
    if unkeyable:
        raise ValueError(f"fit_cached cannot tell runs apart by {unkeyable}; "
                         "call ftcourse.train.fit for a run with them")
    digest = hashlib.sha256()
    digest.update(f"{profile()}|{_package_digest()}|{type(model).__module__}.{type(model).__qualname__}|".encode())
    for name, tensor in model.state_dict(keep_vars=True).items():
        _update_tensor(digest, name, tensor)
        digest.update(b"T" if getattr(tensor, "requires_grad", False) else b"F")
    _update_loader(digest, train_loader)
    _update_loader(digest, valid_loader)
    kwargs = {k: (str(v) if isinstance(v, torch.device) else v) for k, v in sorted(fit_kwargs.items())
              if k not in _IGNORED}
    digest.update(json.dumps(kwargs, sort_keys=True, default=repr).encode())
    _update_tensor(digest, "rng", torch.random.get_rng_state())
    return digest.hexdigest()


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (POSIX); elsewhere, no lock (runs may then repeat)."""
    try:
        import fcntl
    except ImportError:  # Windows: the worst case is training the same run twice
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _changed_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """What training can change: the trainable parameters and every buffer."""
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    buffers = {name for name, _ in model.named_buffers()}
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if k in trainable | buffers}


def fit_cached(model: nn.Module, train_loader, valid_loader=None, **fit_kwargs) -> History:
    """`ftcourse.train.fit(model, train_loader, valid_loader, **fit_kwargs)`, or its stored result.

    On a reuse the model ends with the trained weights, the returned History is the stored one
    (its `reused` is True) and the random-number state is the one training left. Custom
    optimisers, losses, schedulers and checkpoint files are refused: they cannot be keyed."""
    key = run_key(model, train_loader, valid_loader, **fit_kwargs)
    folder = cache_dir() / "runs"
    weights, record = folder / f"{key}.pt", folder / f"{key}.json"
    with _exclusive(folder / f"{key}.lock"):
        if weights.is_file() and record.is_file():
            stored = torch.load(weights, map_location="cpu", weights_only=True)
            missing = set(_changed_state(model)) - set(stored["state"])
            if not missing:
                model.load_state_dict(stored["state"], strict=False)
                device = fit_kwargs.get("device")
                if device is not None:
                    model.to(device)
                torch.random.set_rng_state(stored["rng"])
                history = History(**json.loads(record.read_text(encoding="utf-8")))
                history.reused = True
                return history
        history = fit(model, train_loader, valid_loader, **fit_kwargs)
        buffer = io.BytesIO()
        torch.save({"state": _changed_state(model), "rng": torch.random.get_rng_state()}, buffer)
        atomic_write_bytes(weights, buffer.getvalue())
        fields = {k: v for k, v in history.to_dict().items() if k != "reused"}
        atomic_write_text(record, json.dumps(fields))
        return history


__all__ = ["fit_cached", "run_key"]

