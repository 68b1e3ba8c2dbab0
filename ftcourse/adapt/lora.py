"""LoRA from scratch: a frozen Linear plus a trainable low-rank update, W x + s * B^T A^T x.

Chapter 04 builds `LoRALayer` and `LinearWithLoRA` (seed 002's names) on the mean-embedding
classifier and LeNet; chapter 05 applies them to BERT's query and value projections with
`apply_lora`, merges them for inference and saves only the few weights that were trained.

Two conventions for the scale s, and why we default to PEFT's:
- "peft" (also seed 000's and the LoRA paper's): s = alpha / rank, A initialised like a Linear
  weight (uniform in +-1/sqrt(in_dim)), B = 0. Changing the rank keeps the update's size
  comparable, and the layer matches `peft.LoraConfig(r=rank, lora_alpha=alpha)` number for
  number, which the tests check.
- "seed002": s = alpha, A ~ N(0, 1/rank) (std 1/sqrt(rank)), B = 0: seed 002's `LoRALayer`.
  Its rank 2, alpha 0.1 is the same scale as "peft" with rank 2, alpha 0.2.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from ftcourse.adapt.basics import MATCHING_RULE, as_patterns, freeze, name_matches
from ftcourse.adapt.files import (
    load_partial_state_dict,
    load_tensor_file,
    partial_state_dict,
    save_tensor_file,
    saved_module,
)
from ftcourse.adapt.inject import (
    AdapterModule,
    LinearWrapper,
    mark_trainable,
    replace_module,
    select_linears,
    select_modules,
)

CONVENTIONS = ("peft", "seed002")


class LoRALayer(AdapterModule):
    """The low-rank update alone: x -> scaling * (x @ A @ B), with A [in_dim, rank], B [rank, out_dim].

    B starts at zero, so the wrapped layer starts exactly equal to the pre-trained one.
    `scaling` is a buffer: it is saved with A and B, and a reload restores it.
    """

    def __init__(
        self, in_dim: int, out_dim: int, rank: int, alpha: float, convention: str = "peft"
    ) -> None:
        super().__init__()
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        if not math.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"alpha must be a positive number, got {alpha!r}")
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
        self.rank, self.alpha, self.convention = rank, float(alpha), convention
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        if convention == "peft":
            # What nn.Linear's default (kaiming_uniform, a=sqrt(5)) gives a [rank, in_dim] weight.
            nn.init.uniform_(self.A, -1 / math.sqrt(in_dim), 1 / math.sqrt(in_dim))
            scaling = alpha / rank
        else:
            nn.init.normal_(self.A, std=1 / math.sqrt(rank))
            scaling = alpha
        self.register_buffer("scaling", torch.tensor(float(scaling)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Scale the rank-sized intermediate, not the out_dim-sized result: fewer multiplications.
        return (x @ self.A * self.scaling) @ self.B

    def delta_weight(self) -> torch.Tensor:
        """The [out_dim, in_dim] update the layer adds to the frozen weight, ready to merge."""
        # At least float32: half-precision matmuls are slow or missing on CPUs, and lose digits.
        dtype = torch.promote_types(self.A.dtype, torch.float32)
        delta = (self.A.to(dtype) @ self.B.to(dtype)).T * self.scaling.to(dtype)
        return delta.to(self.A.dtype)

    def extra_repr(self) -> str:
        # a model built on the meta device (chapter 05 counts BERT-base that way) has no values to
        # read: its scale is then the one its convention sets
        if self.scaling.is_meta:
            scaling = f"{self.alpha / self.rank if self.convention == 'peft' else self.alpha:g}"
        else:
            scaling = f"{self.scaling.item():g}"
        return (
            f"in_dim={self.A.shape[0]}, out_dim={self.B.shape[1]}, rank={self.rank}, "
            f"alpha={self.alpha:g}, scaling={scaling} ({self.convention})"
        )


class LinearWithLoRA(LinearWrapper):
    """A frozen `nn.Linear` plus a `LoRALayer`: linear(x) + lora(x) (seed 002's class).

    `merge()` folds the update into the linear's weight (then forward uses the linear alone, so
    inference costs nothing extra); `unmerge()` takes it out again.
    """

    def __init__(
        self, linear: nn.Linear, rank: int, alpha: float, convention: str = "peft"
    ) -> None:
        super().__init__()
        if isinstance(linear, LinearWithLoRA):
            raise ValueError("this layer already has LoRA; wrap the original nn.Linear once")
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"LinearWithLoRA wraps an nn.Linear, got {type(linear).__name__}")
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha, convention)
        self.lora.to(device=linear.weight.device, dtype=linear.weight.dtype)
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged:
            return self.linear(x)
        return self.linear(x) + self.lora(x)

    @torch.no_grad()
    def merge(self) -> bool:
        """W += scaling * (A @ B)^T; returns False (and does nothing) when already merged."""
        if self.merged:
            return False
        weight = self.linear.weight
        weight += self.lora.delta_weight().to(weight.dtype)
        self.merged = True
        return True

    @torch.no_grad()
    def unmerge(self) -> bool:
        """Undo `merge()`; returns False (and does nothing) when not merged."""
        if not self.merged:
            return False
        weight = self.linear.weight
        weight -= self.lora.delta_weight().to(weight.dtype)
        self.merged = False
        return True


def _lora_layers(model: nn.Module) -> dict[str, LinearWithLoRA]:
    layers = {n: m for n, m in model.named_modules() if isinstance(m, LinearWithLoRA)}
    if not layers:
        raise ValueError(f"{type(model).__name__} has no LoRA layers; call apply_lora first")
    return layers


def apply_lora(
    model: nn.Module,
    target_modules: str | Iterable[str],
    rank: int,
    alpha: float,
    train_modules: str | Iterable[str] = (),
    convention: str = "peft",
) -> list[str]:
    """Replace every nn.Linear a target names with a `LinearWithLoRA`, and freeze all but the
    LoRA weights and `train_modules` (e.g. ("classifier",) for a new head). Chapters 04-05.

    A target is an exact name, a name suffix as in PEFT (`"query"` matches
    `encoder.layer.0.attention.self.query`) or a glob (`ftcourse.adapt.basics.MATCHING_RULE`).
    Raises naming any target that matches nothing, and refuses layers that are already wrapped.
    Returns the wrapped names.
    """
    names = select_linears(model, target_modules, "apply_lora")
    keep = select_modules(model, train_modules, "train_modules") if as_patterns(train_modules) else []
    LoRALayer(1, 1, rank, alpha, convention)  # validate the settings before touching the model
    for name in names:
        replace_module(model, name, LinearWithLoRA(model.get_submodule(name), rank, alpha, convention))
    mark_trainable(model, LoRALayer, keep)
    return names


def conv1d_to_linear(model: nn.Module, target_modules: str | Iterable[str]) -> list[str]:
    """Replace each Hugging Face `Conv1D` a target names (GPT-2's `c_attn`, `c_proj`, `c_fc`) by
    the equivalent `nn.Linear`, in place, so that `apply_lora` can wrap it (chapter 12).

    `Conv1D` computes x @ W + b with W stored [in, out], the transpose of nn.Linear's [out, in];
    the new Linear holds W.T and gives the same outputs. PEFT makes the same transposition on the
    fly when told `fan_in_fan_out=True`. Raises for a target that matches no Conv1D; returns the
    names replaced.
    """
    targets = as_patterns(target_modules)
    convs = [n for n, m in model.named_modules() if type(m).__name__ == "Conv1D"]
    found = {t: [n for n in convs if name_matches(n, t)] for t in targets}
    missing = [t for t, names in found.items() if not names]
    if not targets or missing:
        raise ValueError(
            f"conv1d_to_linear: target(s) {missing or targets} match no Conv1D in {type(model).__name__}; "
            f"its Conv1D layers are: {', '.join(convs[:12]) or 'none'} ({MATCHING_RULE})"
        )
    names = [n for n in convs if any(n in hits for hits in found.values())]
    for name in names:
        conv = model.get_submodule(name)
        in_dim, out_dim = conv.weight.shape
        linear = nn.Linear(in_dim, out_dim, bias=conv.bias is not None,
                           device=conv.weight.device, dtype=conv.weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(conv.weight.T)
            if conv.bias is not None:
                linear.bias.copy_(conv.bias)
        linear.weight.requires_grad_(conv.weight.requires_grad)
        replace_module(model, name, linear)
    return names


def merge_lora(model: nn.Module) -> list[str]:
    """Fold every LoRA update into its frozen weight, in place; returns the layers merged now."""
    return [name for name, layer in _lora_layers(model).items() if layer.merge()]


def unmerge_lora(model: nn.Module) -> list[str]:
    """Take every merged LoRA update back out of its weight; returns the layers unmerged now."""
    return [name for name, layer in _lora_layers(model).items() if layer.unmerge()]


def unload_lora(model: nn.Module, merge: bool = True) -> list[str]:
    """Put a plain `nn.Linear` back in place of every `LinearWithLoRA`, in place. Chapters 04-05.

    `merge=True` keeps the fine-tuned behaviour (the update folded into the weight, PEFT's
    `merge_and_unload`): a model with no trace of LoRA, as fast as the base. `merge=False` drops
    the update and gives back the pre-trained layer (PEFT's `unload`). Returns the names.
    """
    layers = _lora_layers(model)
    for name, layer in layers.items():
        if merge:
            layer.merge()
        else:
            layer.unmerge()
        replace_module(model, name, layer.linear)
    return list(layers)


def lora_state_dict(model: nn.Module, include: str | Iterable[str] = ()) -> dict[str, torch.Tensor]:
    """A, B and scaling of every LoRA layer, plus the `include`d modules (e.g. a new head)."""
    return partial_state_dict(model, LoRALayer, include, "LoRA layers", "call apply_lora first")[0]


def save_lora(model: nn.Module, path: str | Path, include: str | Iterable[str] = ()) -> Path:
    """Write only the LoRA weights (and the `include`d modules) to `.safetensors` or `.pt`, atomically.

    Seed 002 saves A, B, alpha and the output layer in four files; this is the one-file version.
    """
    tensors, included = partial_state_dict(
        model, LoRALayer, include, "LoRA layers", "call apply_lora first"
    )
    layers = {
        name: {
            "rank": layer.lora.rank,
            "alpha": layer.lora.alpha,
            "convention": layer.lora.convention,
        }
        for name, layer in _lora_layers(model).items()
    }
    meta = {
        "format": "ftcourse.lora",
        "version": "1",
        "layers": json.dumps(layers),
        "include": json.dumps(included),
    }
    return save_tensor_file(path, tensors, meta)


def load_lora(base_model: nn.Module, path: str | Path, trainable: bool = False) -> list[str]:
    """Apply the saved LoRA layers to a freshly built base model and load their weights and the
    saved modules. Frozen for inference unless `trainable`; returns the LoRA layer names."""
    tensors, meta = load_tensor_file(path, "ftcourse.lora")
    layers = json.loads(meta["layers"])
    for name, spec in layers.items():
        module = saved_module(base_model, name, path)
        if isinstance(module, LinearWithLoRA):
            if module.merged:
                raise ValueError(
                    f"{path}: {name} is merged; unmerge_lora(model) before loading new weights"
                )
            if module.lora.rank != spec["rank"]:
                raise ValueError(
                    f"{path}: {name} has rank {module.lora.rank} here, {spec['rank']} in the file"
                )
        elif isinstance(module, nn.Linear):
            replace_module(
                base_model,
                name,
                LinearWithLoRA(module, spec["rank"], spec["alpha"], spec["convention"]),
            )
        else:
            raise ValueError(f"{path}: {name!r} is a {type(module).__name__} here, not a Linear")
    load_partial_state_dict(base_model, tensors, path)
    if trainable:
        mark_trainable(base_model, LoRALayer, json.loads(meta["include"]))
    else:
        freeze(base_model)
    return list(layers)


__all__ = [
    "CONVENTIONS",
    "LinearWithLoRA",
    "LoRALayer",
    "apply_lora",
    "conv1d_to_linear",
    "load_lora",
    "lora_state_dict",
    "merge_lora",
    "save_lora",
    "unload_lora",
    "unmerge_lora",
]
