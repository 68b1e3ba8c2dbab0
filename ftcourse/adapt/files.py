"""Adapter-only weights: the small state dict of what a method added, and its file on disk.

Chapters 03-05 save only what was trained (adapters or LoRA weights, and a new head), not the
pre-trained base, and load it back into a freshly built base model. Method-agnostic: the
method says which `AdapterModule` type it owns and what metadata its file carries.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from ftcourse.adapt.basics import as_patterns
from ftcourse.adapt.inject import AdapterModule, select_modules
from ftcourse.results import atomic_write_bytes


def partial_state_dict(
    model: nn.Module,
    owned: type[AdapterModule],
    include: str | Iterable[str] = (),
    what: str = "adapters",
    hint: str = "add them first",
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The state of every `owned`-type module plus that of the `include`d modules, and the names
    of those modules. Chapters 03-05.

    Raises when a trainable parameter would be left out: a file without the new head it was
    trained with reloads into a model with a random head, and nothing would say so.
    """
    state: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if isinstance(module, owned):
            state.update(module.state_dict(prefix=f"{name}." if name else ""))
    if not state:
        raise ValueError(f"{type(model).__name__} has no {what}; {hint}")
    included = select_modules(model, include, "include") if as_patterns(include) else []
    for name in included:
        state.update(model.get_submodule(name).state_dict(prefix=f"{name}."))
    left_out = [n for n, p in model.named_parameters() if p.requires_grad and n not in state]
    if left_out:
        raise ValueError(
            f"saving the {what}: trainable parameters {left_out[:6]} would be left out; pass include=(...) "
            "naming their module (e.g. include=('classifier',)) or freeze them"
        )
    return {k: v.detach() for k, v in state.items()}, included


def save_tensor_file(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> Path:
    """Write tensors and string metadata atomically: `.safetensors`, or `.pt`/`.pth` (torch.save)."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save

        payload = save(tensors, metadata=meta)
    elif path.suffix in (".pt", ".pth"):
        buffer = io.BytesIO()
        torch.save({"meta": meta, "tensors": tensors}, buffer)
        payload = buffer.getvalue()
    else:
        raise ValueError(f"{path.name}: use a .safetensors or .pt file name")
    return atomic_write_bytes(path, payload)


def load_tensor_file(path: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a file `save_tensor_file` wrote, refusing one whose metadata says another `kind`.

    Safe: no pickled code runs (safetensors, or torch.load with weights_only=True).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    else:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or "tensors" not in blob:
            raise ValueError(f"{path} is not a file written by ftcourse's save_lora/save_adapters")
        meta, tensors = blob["meta"], blob["tensors"]
    if meta.get("format") != kind:
        raise ValueError(f"{path} holds {meta.get('format', 'an unknown format')!r}, not {kind!r}")
    return tensors, meta


def saved_module(model: nn.Module, name: str, path: Path | str) -> nn.Module:
    """The submodule a saved file names, or an error saying the file is for another model."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise ValueError(
            f"{path}: the model has no {name!r}; load into the architecture it was saved from"
        ) from None


def load_partial_state_dict(model: nn.Module, tensors: dict[str, torch.Tensor], path: Path | str) -> None:
    """Copy `tensors` into `model`, naming the fix when a name or a shape does not fit."""
    own = model.state_dict()
    for key, value in tensors.items():
        if key not in own:
            raise ValueError(
                f"{path}: the model has no {key!r}; load into the architecture it was saved from"
            )
        if own[key].shape != value.shape:
            module = key.rpartition(".")[0]
            raise ValueError(
                f"{path}: {key} is {tuple(value.shape)} in the file but {tuple(own[key].shape)} in the model; "
                f"give the model the same {module!r} first (e.g. ftcourse.adapt.replace_head)"
            )
    model.load_state_dict(tensors, strict=False)


__all__ = [
    "load_partial_state_dict",
    "load_tensor_file",
    "partial_state_dict",
    "save_tensor_file",
    "saved_module",
]
