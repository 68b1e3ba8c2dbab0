"""Putting new trainable pieces into a frozen model, whatever the method (adapters, LoRA).

The method-agnostic half of chapters 03-05, as PEFT splits `tuners_utils` from `lora/layer.py`:
the base classes every method builds on (`AdapterModule`, `LinearWrapper`), choosing the
layers to wrap by name (`select_linears`, `select_modules`, one matching rule:
`ftcourse.adapt.basics.MATCHING_RULE`), swapping a layer in place (`replace_module`) and
deciding what trains (`mark_trainable`). `ftcourse.adapt.adapters` and `ftcourse.adapt.lora`
build on this module and never on each other.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from ftcourse.adapt.basics import MATCHING_RULE, as_patterns, freeze, name_matches


class AdapterModule(nn.Module):
    """Base of the new, trainable weights a method adds (a bottleneck adapter, a LoRA update).

    Marks them so that `mark_trainable` and the adapter files find them, and so that no method
    wraps a layer inside them (chapters 03-04).
    """


class LinearWrapper(nn.Module):
    """Base of the layers that wrap a frozen `nn.Linear` as `self.linear` (chapters 03-04).

    Code that inspects the layer it replaced (sizes, weights) keeps working, and no method
    wraps a wrapped layer a second time.
    """

    linear: nn.Linear

    @property
    def in_features(self) -> int:
        return self.linear.in_features

    @property
    def out_features(self) -> int:
        return self.linear.out_features

    @property
    def weight(self) -> nn.Parameter:
        return self.linear.weight

    @property
    def bias(self) -> nn.Parameter | None:
        return self.linear.bias


ADAPTED = (AdapterModule, LinearWrapper)  # what a method has already put into a model


def parent_module(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    """The module holding the submodule `name`, and its attribute name there."""
    parent_name, _, child = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), child


def select_linears(model: nn.Module, targets: str | Iterable[str], what: str) -> list[str]:
    """Names of the `nn.Linear` layers the targets match, in model order (chapters 03-05).

    Raises, naming the Linear layers there are, for a target that matches none; refuses a
    layer already adapted and `nn.MultiheadAttention`'s out_proj (which it never calls).
    """
    targets = as_patterns(targets)
    if not targets:
        raise ValueError(f"{what}: give at least one target module name")
    adapted = [n for n, m in model.named_modules() if isinstance(m, ADAPTED)]
    found: dict[str, list[str]] = {t: [] for t in targets}
    linears = []
    for name, module in model.named_modules():
        hits = [t for t in targets if name_matches(name, t)]
        owner = next((o for o in adapted if name == o or name.startswith(o + ".")), None)
        if owner is not None:
            if hits:
                raise ValueError(
                    f"{what}: {name!r} is already adapted ({type(model.get_submodule(owner)).__name__} "
                    f"at {owner!r}); adapt a freshly built base model, once"
                )
            continue
        if not isinstance(module, nn.Linear):
            continue
        linears.append(name)
        if hits and isinstance(parent_module(model, name)[0], nn.MultiheadAttention):
            raise ValueError(
                f"{what}: cannot wrap {name!r}: nn.MultiheadAttention reads out_proj.weight directly "
                "instead of calling out_proj, so a wrapper there would be ignored; "
                "target the feed-forward layers (linear1, linear2) instead"
            )
        for t in hits:
            found[t].append(name)
    missing = [t for t, names in found.items() if not names]
    if missing:
        sample = ", ".join(linears[:12]) + (", ..." if len(linears) > 12 else "")
        raise ValueError(
            f"{what}: target(s) {missing} match no nn.Linear in {type(model).__name__}; "
            f"its Linear layers are: {sample or 'none'} ({MATCHING_RULE})"
        )
    return sorted({n for names in found.values() for n in names}, key=linears.index)


def select_modules(model: nn.Module, patterns: str | Iterable[str], what: str) -> list[str]:
    """Names of the modules (any type) the patterns match; raises for a pattern that matches none."""
    names = [n for n, _ in model.named_modules() if n]
    chosen: list[str] = []
    for pattern in as_patterns(patterns):
        hits = [n for n in names if name_matches(n, pattern)]
        if not hits:
            raise ValueError(
                f"{what}={pattern!r} matches no module of {type(model).__name__}; "
                f"top-level modules are: {', '.join(n for n, _ in model.named_children())}"
            )
        chosen += [h for h in hits if h not in chosen]
    return chosen


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put `new` where the submodule `name` is, keeping PyTorch's fused kernels from skipping it."""
    parent, child = parent_module(model, name)
    setattr(parent, child, new)
    # PyTorch's fused inference kernels for nn.TransformerEncoderLayer read linear1.weight and
    # linear2.weight directly and would skip the wrapper: switch them off for the layers we touch.
    # (activation_relu_or_gelu = 0 only disables the fused path; the layer's activation is unchanged.)
    parts = name.split(".")
    for i in range(len(parts)):
        ancestor = model.get_submodule(".".join(parts[:i]))
        if isinstance(ancestor, nn.TransformerEncoderLayer):
            ancestor.activation_relu_or_gelu = 0
        elif isinstance(ancestor, nn.TransformerEncoder):
            ancestor.use_nested_tensor = False


def mark_trainable(
    model: nn.Module, new_type: type[AdapterModule], train_modules: Iterable[str] = ()
) -> None:
    """Freeze everything, then unfreeze every `new_type` module and the named modules (e.g. a
    new head, by exact name as `select_modules` returns them). Chapters 03-05."""
    freeze(model)
    for module in model.modules():
        if isinstance(module, new_type):
            module.requires_grad_(True)
    for name in train_modules:
        model.get_submodule(name).requires_grad_(True)


__all__ = [
    "ADAPTED",
    "AdapterModule",
    "LinearWrapper",
    "mark_trainable",
    "parent_module",
    "replace_module",
    "select_linears",
    "select_modules",
]
