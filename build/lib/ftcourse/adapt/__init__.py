"""Choosing what trains: freezing, unfreezing by name, counting, replacing the head.

Chapter 02 teaches these; `ftcourse.adapt.adapters` and `ftcourse.adapt.lora` (chapters 03-05)
add new trainable pieces to a frozen model.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from torch import nn


def _matcher(patterns: str | Iterable[str]):
    if isinstance(patterns, str):
        patterns = [patterns]
    patterns = list(patterns)
    if not patterns:
        raise ValueError("give at least one parameter-name pattern")
    compiled = [re.compile(fnmatch.translate(p)) for p in patterns]
    return patterns, lambda name: any(c.fullmatch(name) or name == p for c, p in zip(compiled, patterns))


def freeze(model: nn.Module) -> nn.Module:
    """Set `requires_grad=False` on every parameter; returns the model."""
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def unfreeze(model: nn.Module, patterns: str | Iterable[str] = "*") -> list[str]:
    """Make trainable the parameters whose names match a glob pattern (e.g. `"*.linear2.*"`).

    Returns the names unfrozen; raises naming the model's parameters when nothing matches.
    """
    patterns, matches = _matcher(patterns)
    names = []
    for name, param in model.named_parameters():
        if matches(name):
            param.requires_grad_(True)
            names.append(name)
    if not names:
        sample = ", ".join(n for n, _ in list(model.named_parameters())[:8])
        raise ValueError(f"no parameter name matches {patterns}; names look like: {sample}, ...")
    return names


@dataclass(frozen=True)
class ParameterCount:
    trainable: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"trainable {self.trainable:,} of {self.total:,} ({self.percent:.2f}%)"


def count_parameters(model: nn.Module) -> ParameterCount:
    """Trainable and total parameter counts (shared tensors counted once)."""
    seen: set[int] = set()
    trainable = total = 0
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return ParameterCount(trainable, total)


def replace_head(model: nn.Module, num_class: int, attribute: str = "classifier") -> nn.Linear:
    """Swap the final Linear `model.<attribute>` for a fresh, trainable one with `num_class` outputs.

    The new layer sits on the old one's device and dtype; returns it.
    """
    old = getattr(model, attribute, None)
    if not isinstance(old, nn.Linear):
        raise ValueError(
            f"model.{attribute} is {type(old).__name__}, not nn.Linear; pass attribute= naming the head"
        )
    if num_class < 2:
        raise ValueError(f"a classification head needs at least 2 outputs, got {num_class}")
    new = nn.Linear(old.in_features, num_class, bias=old.bias is not None)
    new.to(device=old.weight.device, dtype=old.weight.dtype)
    setattr(model, attribute, new)
    return new


def trainable_names(model: nn.Module) -> list[str]:
    return [name for name, param in model.named_parameters() if param.requires_grad]


__all__ = ["ParameterCount", "count_parameters", "freeze", "replace_head", "trainable_names", "unfreeze"]
