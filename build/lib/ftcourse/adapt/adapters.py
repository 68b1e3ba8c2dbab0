"""Bottleneck adapters: small trainable modules inserted into a frozen pre-trained model.

Chapter 03 teaches them: `BottleneckAdapter` (the seeds' `FeatureAdapter`), `AdaptedLinear`
(their `Adapted`), `add_adapters` for `nn.TransformerEncoderLayer` models, `add_bert_adapters`
for BERT-family encoders (Houlsby placement), and adapter-only files (`save_adapters`,
`load_adapters`). The selection, freezing and file helpers below are shared with
`ftcourse.adapt.lora`.
"""

from __future__ import annotations

import fnmatch
import io
import json
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from ftcourse.adapt import freeze
from ftcourse.results import atomic_write_bytes

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class BottleneckAdapter(nn.Module):
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


class LinearWrapper(nn.Module):
    """Base of the layers that wrap an `nn.Linear` (adapters here, LoRA in `lora`): code that
    inspects the layer it replaced (sizes, weights) keeps working."""

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


# ---- shared by adapters and LoRA: choosing layers, freezing, files -------------------------


def _as_list(names: str | Iterable[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _matches(name: str, target: str) -> bool:
    """PEFT-style: an exact name, a name suffix after a dot (`query`), or a glob (`*.layer.0.*`)."""
    if any(c in target for c in "*?["):
        return fnmatch.fnmatchcase(name, target)
    return name == target or name.endswith("." + target)


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent_name, _, child = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), child


def _new_module_types() -> tuple[type, ...]:
    from ftcourse.adapt.lora import LinearWithLoRA, LoRALayer

    return (BottleneckAdapter, AdaptedLinear, LoRALayer, LinearWithLoRA)


def _select_linears(model: nn.Module, targets: str | Iterable[str], what: str) -> list[str]:
    """Names of the nn.Linear layers the targets match; raises for a target that matches none."""
    targets = _as_list(targets)
    if not targets:
        raise ValueError(f"{what}: give at least one target module name")
    ours = _new_module_types()
    inside_ours = {n for n, m in model.named_modules() if isinstance(m, ours)}
    found: dict[str, list[str]] = {t: [] for t in targets}
    linears = []
    for name, module in model.named_modules():
        hits = [t for t in targets if _matches(name, t)]
        owner = next((o for o in inside_ours if name == o or name.startswith(o + ".")), None)
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
        if hits and isinstance(_parent(model, name)[0], nn.MultiheadAttention):
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
            f"its Linear layers are: {sample or 'none'} "
            "(a target is an exact name, a name suffix such as 'query', or a glob such as '*.0.*')"
        )
    return sorted({n for names in found.values() for n in names}, key=linears.index)


def _select_modules(model: nn.Module, patterns: str | Iterable[str], what: str) -> list[str]:
    """Names of the modules (any type) that each pattern matches; raises for one that matches none."""
    names = [n for n, _ in model.named_modules() if n]
    chosen: list[str] = []
    for pattern in _as_list(patterns):
        hits = [n for n in names if _matches(n, pattern)]
        if not hits:
            raise ValueError(
                f"{what}={pattern!r} matches no module of {type(model).__name__}; "
                f"top-level modules are: {', '.join(n for n, _ in model.named_children())}"
            )
        chosen += [h for h in hits if h not in chosen]
    return chosen


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, child = _parent(model, name)
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


def _set_trainable(
    model: nn.Module, new_types: tuple[type, ...], train_modules: Iterable[str]
) -> None:
    """Freeze everything, then unfreeze the new modules and the named modules (e.g. a new head)."""
    freeze(model)
    for module in model.modules():
        if isinstance(module, new_types):
            module.requires_grad_(True)
    for name in train_modules:
        model.get_submodule(name).requires_grad_(True)


def _partial_state(
    model: nn.Module, owned: type, include: str | Iterable[str], what: str, hint: str
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The state of every `owned`-type module plus that of the `include`d modules (and their names).

    Raises when a trainable parameter would be left out: a file without the new head it was
    trained with reloads into a model with a random head, and nothing would say so.
    """
    state: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if isinstance(module, owned):
            state.update(module.state_dict(prefix=f"{name}." if name else ""))
    if not state:
        raise ValueError(f"{type(model).__name__} has no {what}; {hint}")
    included = _select_modules(model, include, "include") if _as_list(include) else []
    for name in included:
        state.update(model.get_submodule(name).state_dict(prefix=f"{name}."))
    left_out = [n for n, p in model.named_parameters() if p.requires_grad and n not in state]
    if left_out:
        raise ValueError(
            f"saving the {what}: trainable parameters {left_out[:6]} would be left out; pass include=(...) "
            "naming their module (e.g. include=('classifier',)) or freeze them"
        )
    return {k: v.detach() for k, v in state.items()}, included


def _save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> Path:
    """Atomic write: `.safetensors` (needs the safetensors package) or `.pt`/`.pth` (torch.save)."""
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


def _load_tensors(path: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Safe load (no pickled code): safetensors, or torch.load with weights_only=True."""
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


def _get_module(model: nn.Module, name: str, path: Path | str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise ValueError(
            f"{path}: the model has no {name!r}; load into the architecture it was saved from"
        ) from None


def _load_partial(model: nn.Module, tensors: dict[str, torch.Tensor], path: Path | str) -> None:
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


# ---- adapters ---------------------------------------------------------------------------------


def _wrap_adapter(model: nn.Module, name: str, bottleneck: int, activation: str) -> None:
    _replace(model, name, AdaptedLinear(model.get_submodule(name), bottleneck, activation))


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
    names = _select_linears(model, targets, "add_adapters")
    keep = _select_modules(model, train_modules, "train_modules") if _as_list(train_modules) else []
    for name in names:
        _wrap_adapter(model, name, bottleneck, activation)
    _set_trainable(model, (BottleneckAdapter,), keep)
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
    keep = _select_modules(model, train_modules, "train_modules") if _as_list(train_modules) else []
    for name in names:
        _wrap_adapter(model, name, bottleneck, activation)
    _set_trainable(model, (BottleneckAdapter,), keep)
    return names


_ADAPTER_HINT = "call add_adapters or add_bert_adapters first"


def adapter_state_dict(
    model: nn.Module, include: str | Iterable[str] = ()
) -> dict[str, torch.Tensor]:
    """The adapters' weights and those of the `include`d modules (e.g. ("classifier",)), by state-dict key."""
    return _partial_state(model, BottleneckAdapter, include, "adapters", _ADAPTER_HINT)[0]


def _activation_name(adapter: BottleneckAdapter) -> str:
    return next(k for k, v in _ACTIVATIONS.items() if type(adapter.activation) is v)


def save_adapters(model: nn.Module, path: str | Path, include: str | Iterable[str] = ()) -> Path:
    """Write the adapters (and the `include`d modules, e.g. a new head) to a small file; the
    pre-trained base is not in it. `.safetensors` or `.pt`, written atomically."""
    tensors, included = _partial_state(model, BottleneckAdapter, include, "adapters", _ADAPTER_HINT)
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
    return _save_tensors(path, tensors, meta)


def load_adapters(model: nn.Module, path: str | Path, trainable: bool = False) -> list[str]:
    """Put the saved adapters into a freshly built base model (or one already adapted the same
    way) and load them and the saved modules. Frozen for inference unless `trainable`."""
    tensors, meta = _load_tensors(path, "ftcourse.adapters")
    layers = json.loads(meta["layers"])
    for name, (bottleneck, activation) in layers.items():
        module = _get_module(model, name, path)
        if isinstance(module, nn.Linear):
            _wrap_adapter(model, name, bottleneck, activation)
        elif not isinstance(module, AdaptedLinear):
            raise ValueError(
                f"{path}: {name!r} is a {type(module).__name__} here, not a Linear to adapt"
            )
    _load_partial(model, tensors, path)
    if trainable:
        _set_trainable(model, (BottleneckAdapter,), json.loads(meta["include"]))
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
