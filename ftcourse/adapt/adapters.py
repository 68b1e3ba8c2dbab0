"""Bottleneck adapters: small trainable modules inserted into a frozen pre-trained model.

Chapter 03 teaches them: `BottleneckAdapter` (the seeds' `FeatureAdapter`), `AdaptedLinear`
(their `Adapted`), `add_adapters` for `nn.TransformerEncoderLayer` models, `add_bert_adapters`
for BERT-family encoders (Houlsby placement), and adapter-only files (`save_adapters`,
`load_adapters`). Choosing layers, swapping them in and the files come from the method-agnostic
`ftcourse.adapt.inject` and `ftcourse.adapt.files`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from ftcourse.adapt.basics import as_patterns, freeze
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

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class BottleneckAdapter(AdapterModule):
    """x + up(act(down(x))): a dim -> bottleneck -> dim detour with a residual connection.

    The up-projection starts at zero (weight and bias), so a freshly inserted adapter is the
    identity and the adapted model starts exactly equal to the pre-trained one; training then
    grows the correction from there. (The seeds initialise both projections randomly, which
    changes every output the moment the adapters are inserted.)
    Parameters: 2 * dim * bottleneck + dim + bottleneck.
    """

    def __init__(self, dim: int, bottleneck: int = 24, activation: str = "relu") -> None:
        super().__init__()
        if dim < 1 or bottleneck < 1:
            raise ValueError(f"dim and bottleneck must be positive, got {dim} and {bottleneck}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}"
            )
        self.down_project = nn.Linear(dim, bottleneck)
        self.activation = _ACTIVATIONS[activation]()
        self.up_project = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up_project.weight)
        nn.init.zeros_(self.up_project.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up_project(self.activation(self.down_project(x)))


FeatureAdapter = BottleneckAdapter  # the name seed 002 uses


class AdaptedLinear(LinearWrapper):
    """A frozen `nn.Linear` followed by a `BottleneckAdapter` on its output (seed 002's `Adapted`).

    `bottleneck=None` takes half the output size, as the seed does.
    """

    def __init__(
        self, linear: nn.Linear, bottleneck: int | None = None, activation: str = "relu"
    ) -> None:
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"AdaptedLinear wraps an nn.Linear, got {type(linear).__name__}")
        self.linear = linear
        if bottleneck is None:
            bottleneck = max(1, linear.out_features // 2)
        self.adapter = BottleneckAdapter(linear.out_features, bottleneck, activation)
        self.adapter.to(device=linear.weight.device, dtype=linear.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.linear(x))


Adapted = AdaptedLinear  # the name seed 002 uses


def _wrap_adapter(model: nn.Module, name: str, bottleneck: int, activation: str) -> None:
    replace_module(model, name, AdaptedLinear(model.get_submodule(name), bottleneck, activation))


def add_adapters(
    model: nn.Module,
    targets: str | Iterable[str] = ("linear1", "linear2"),
    bottleneck: int = 24,
    activation: str = "relu",
    train_modules: str | Iterable[str] = (),
) -> list[str]:
    """Wrap the targeted Linears (default: linear1/linear2 of every nn.TransformerEncoderLayer)
    with adapters and freeze everything else but `train_modules` (e.g. ("classifier",)). Chapter 03.

    Returns the wrapped names; raises naming the targets when one matches nothing.
    """
    names = select_linears(model, targets, "add_adapters")
    keep = select_modules(model, train_modules, "train_modules") if as_patterns(train_modules) else []
    for name in names:
        _wrap_adapter(model, name, bottleneck, activation)
    mark_trainable(model, BottleneckAdapter, keep)
    return names


# BERT-family layers: where the attention block and the feed-forward block end (their output
# projection, before dropout, residual and LayerNorm).
_BERT_LAYOUTS = (
    ("attention.output.dense", "output.dense"),  # BERT, RoBERTa, ELECTRA, MiniLM
    ("attention.out_lin", "ffn.lin2"),  # DistilBERT
)


def bert_adapter_targets(model: nn.Module) -> list[str]:
    """The output projections of the attention and feed-forward blocks of every BERT-style layer."""
    names = []
    for name, module in model.named_modules():
        for layout in _BERT_LAYOUTS:
            try:
                found = [module.get_submodule(path) for path in layout]
            except AttributeError:
                continue
            prefix = f"{name}." if name else ""
            if any(isinstance(m, AdaptedLinear) for m in found):
                raise ValueError(
                    f"{prefix}{layout[0]} already has an adapter; adapt a fresh base model, once"
                )
            if all(isinstance(m, nn.Linear) for m in found):
                names += [prefix + path for path in layout]
    if not names:
        raise ValueError(
            f"no BERT-style layer in {type(model).__name__} (a module with attention.output.dense and "
            "output.dense, or DistilBERT's attention.out_lin and ffn.lin2); "
            "for nn.TransformerEncoder models use add_adapters"
        )
    return names


def add_bert_adapters(
    model: nn.Module,
    bottleneck: int = 64,
    activation: str = "relu",
    train_modules: str | Iterable[str] = (),
) -> list[str]:
    """Houlsby adapters in every BERT layer: one after the attention block, one after the
    feed-forward block, each on the block's output projection, before the residual LayerNorm.

    Seed 000's design, done on `transformers`' own layers; works on a `BertModel`,
    `BertForSequenceClassification`, an `EncoderClassifier` (and DistilBERT). Freezes all but
    the adapters and `train_modules`; returns the wrapped names. Chapter 05.
    """
    names = bert_adapter_targets(model)
    keep = select_modules(model, train_modules, "train_modules") if as_patterns(train_modules) else []
    for name in names:
        _wrap_adapter(model, name, bottleneck, activation)
    mark_trainable(model, BottleneckAdapter, keep)
    return names


_ADAPTER_HINT = "call add_adapters or add_bert_adapters first"


def adapter_state_dict(
    model: nn.Module, include: str | Iterable[str] = ()
) -> dict[str, torch.Tensor]:
    """The adapters' weights and those of the `include`d modules (e.g. ("classifier",)), by state-dict key."""
    return partial_state_dict(model, BottleneckAdapter, include, "adapters", _ADAPTER_HINT)[0]


def _activation_name(adapter: BottleneckAdapter) -> str:
    return next(k for k, v in _ACTIVATIONS.items() if type(adapter.activation) is v)


def save_adapters(model: nn.Module, path: str | Path, include: str | Iterable[str] = ()) -> Path:
    """Write the adapters (and the `include`d modules, e.g. a new head) to a small file; the
    pre-trained base is not in it. `.safetensors` or `.pt`, written atomically."""
    tensors, included = partial_state_dict(model, BottleneckAdapter, include, "adapters", _ADAPTER_HINT)
    layers = {
        name: [module.adapter.down_project.out_features, _activation_name(module.adapter)]
        for name, module in model.named_modules()
        if isinstance(module, AdaptedLinear)
    }
    meta = {
        "format": "ftcourse.adapters",
        "version": "1",
        "layers": json.dumps(layers),
        "include": json.dumps(included),
    }
    return save_tensor_file(path, tensors, meta)


def load_adapters(model: nn.Module, path: str | Path, trainable: bool = False) -> list[str]:
    """Put the saved adapters into a freshly built base model (or one already adapted the same
    way) and load them and the saved modules. Frozen for inference unless `trainable`."""
    tensors, meta = load_tensor_file(path, "ftcourse.adapters")
    layers = json.loads(meta["layers"])
    for name, (bottleneck, activation) in layers.items():
        module = saved_module(model, name, path)
        if isinstance(module, nn.Linear):
            _wrap_adapter(model, name, bottleneck, activation)
        elif not isinstance(module, AdaptedLinear):
            raise ValueError(
                f"{path}: {name!r} is a {type(module).__name__} here, not a Linear to adapt"
            )
    load_partial_state_dict(model, tensors, path)
    if trainable:
        mark_trainable(model, BottleneckAdapter, json.loads(meta["include"]))
    else:
        freeze(model)
    return list(layers)


__all__ = [
    "Adapted",
    "AdaptedLinear",
    "BottleneckAdapter",
    "FeatureAdapter",
    "adapter_state_dict",
    "add_adapters",
    "add_bert_adapters",
    "bert_adapter_targets",
    "load_adapters",
    "save_adapters",
]
