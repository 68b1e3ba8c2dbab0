"""Choosing what trains: the one name-matching rule, freezing, unfreezing, counting, a new head.

Chapter 02 teaches these. Every function in ftcourse that picks modules or parameters by name
(`unfreeze`, `apply_lora`, `add_adapters`, `train_modules=`, `include=`,
`vision.param_groups`) uses the rule of `name_matches` / `parameter_matches` below.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from torch import nn

MATCHING_RULE = (
    "a pattern matches a dotted name when it equals the name ('classifier'), equals a dotted "
    "suffix of it ('query' matches 'encoder.layer.0.attention.self.query'), or matches the whole "
    "name as a glob ('*.layer.[01].*'); it matches a parameter when it matches the parameter's "
    "name or the name of a module that holds it ('classifier' matches 'classifier.weight')"
)


def as_patterns(patterns: str | Iterable[str]) -> list[str]:
    """One pattern or several, as a list (a lone string is one pattern, not its characters)."""
    return [patterns] if isinstance(patterns, str) else list(patterns)


def name_matches(name: str, pattern: str) -> bool:
    """Whether `pattern` selects the module or parameter called `name` (see MATCHING_RULE). Chapter 02."""
    return name == pattern or name.endswith("." + pattern) or fnmatch.fnmatchcase(name, pattern)


def parameter_matches(name: str, pattern: str) -> bool:
    """Whether `pattern` selects parameter `name`: it names the parameter or a module holding it.

    Chapter 02: `"classifier"`, `"classifier.*"` and `"classifier.weight"` all select
    `classifier.weight`; `"linear2"` selects every parameter of every `linear2` layer.
    """
    parts = name.split(".")
    return any(name_matches(".".join(parts[:i]), pattern) for i in range(1, len(parts) + 1))


def freeze(model: nn.Module) -> nn.Module:
    """Set `requires_grad=False` on every parameter; returns the model. Chapter 02."""
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def unfreeze(model: nn.Module, patterns: str | Iterable[str] = "*") -> list[str]:
    """Make trainable the parameters a pattern selects (`"classifier"`, `"*.linear2.*"`). Chapter 02.

    Patterns follow MATCHING_RULE. Returns the names unfrozen; raises naming the model's
    parameters when nothing matches.
    """
    patterns = as_patterns(patterns)
    if not patterns:
        raise ValueError("give at least one parameter-name pattern")
    names = []
    for name, param in model.named_parameters():
        if any(parameter_matches(name, p) for p in patterns):
            param.requires_grad_(True)
            names.append(name)
    if not names:
        sample = ", ".join(n for n, _ in list(model.named_parameters())[:8])
        raise ValueError(
            f"no parameter name matches {patterns}; names look like: {sample}, ... ({MATCHING_RULE})"
        )
    return names


@dataclass(frozen=True)
class ParameterCount:
    """Trainable and total parameter counts, with the percentage that trains (chapter 02)."""

    trainable: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"trainable {self.trainable:,} of {self.total:,} ({self.percent:.2f}%)"


def count_parameters(model: nn.Module) -> ParameterCount:
    """Trainable and total parameter counts (shared tensors counted once). Chapter 02."""
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


def replace_head(model: nn.Module, num_classes: int, attribute: str = "classifier") -> nn.Linear:
    """Swap the final Linear at `attribute` (a dotted path such as `"head.fc"`) for a fresh,
    trainable one with `num_classes` outputs, on the old one's device and dtype. Chapter 02.
    """
    parent_name, _, child = attribute.rpartition(".")
    try:
        parent = model.get_submodule(parent_name) if parent_name else model
    except AttributeError:
        parent = None
    old = getattr(parent, child, None) if parent is not None else None
    if not isinstance(old, nn.Linear):
        found = "missing" if old is None else type(old).__name__
        raise ValueError(
            f"model.{attribute} is {found}, not nn.Linear; pass attribute= naming the head "
            f"(a dotted path such as 'head.fc'); top-level modules are: "
            f"{', '.join(n for n, _ in model.named_children()) or 'none'}"
        )
    if num_classes < 2:
        raise ValueError(f"a classification head needs at least 2 outputs, got {num_classes}")
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    new.to(device=old.weight.device, dtype=old.weight.dtype)
    setattr(parent, child, new)
    return new


def trainable_names(model: nn.Module) -> list[str]:
    """The names of the parameters that will train, in model order. Chapter 02."""
    return [name for name, param in model.named_parameters() if param.requires_grad]


__all__ = [
    "MATCHING_RULE",
    "ParameterCount",
    "as_patterns",
    "count_parameters",
    "freeze",
    "name_matches",
    "parameter_matches",
    "replace_head",
    "trainable_names",
    "unfreeze",
]
