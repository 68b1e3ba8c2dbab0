"""4-bit NormalFloat (NF4) quantisation and QLoRA, written from scratch (chapter 17).

QLoRA (Dettmers et al., 2023) fine-tunes a large model by storing its frozen weights in 4 bits and
training LoRA adapters (chapter 04) in full precision on top. Three pieces, each here:

- the NF4 code book: 16 values placed at quantiles of the standard normal distribution, so that
  normally distributed weights use every 4-bit code about equally often; 0 is one of them;
- block-wise absmax quantisation: each block of 64 weights is divided by its largest absolute
  value (its *absmax*, kept as a scale) and every weight is replaced by the index of the nearest
  code-book value, two 4-bit indices packed in one byte;
- double quantisation: the float32 scales (32 bits per 64 weights, 0.5 bit per weight) are
  themselves quantised to 8 bits in blocks of 256, leaving 8/64 + 32/(64 x 256) = 0.127 bit.

`Linear4bit` holds a Linear layer's weight that way and dequantises it on the fly in `forward`;
`apply_qlora` puts chapter 04's `LoRALayer` beside each one. The byte layout (high nibble first,
blocks over the flattened weight, the mean of the scales subtracted before their 8-bit
quantisation) is that of `bitsandbytes.functional.quantize_4bit`, which the tests compare against.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

import torch
from torch import nn
from torch.nn import functional as F

from ftcourse.adapt import count_parameters, freeze
from ftcourse.adapt.lora import LoRALayer

BLOCKSIZE = 64  # weights per absmax scale (the QLoRA paper's and bitsandbytes' default)
NESTED_BLOCKSIZE = 256  # scales per second-level scale in double quantisation
# The outermost quantile of NF4: halfway between 1 - 1/(2*15) and 1 - 1/(2*16), the QLoRA paper's
# choice for a 4-bit type with one more positive value than negative ones (bitsandbytes' 0.9677083).
NF4_OFFSET = 0.5 * ((1 - 1 / 30) + (1 - 1 / 32))


def nf4_code_book(offset: float = NF4_OFFSET) -> torch.Tensor:
    """The 16 NF4 values in [-1, 1], ascending: normal quantiles, 0 exact (chapter 17).

    Eight positive values are the quantiles of N(0, 1) at 8 evenly spaced probabilities from
    `offset` down to (not including) 0.5, seven negative ones the same with 7 probabilities, plus
    0; each side is divided by the largest, so both ends are exactly -1 and 1. Two halves, rather
    than 16 symmetric quantiles, because a symmetric 4-bit type has no exact zero.
    """
    if not 0.5 < offset < 1:
        raise ValueError(f"offset is a probability between 0.5 and 1, got {offset!r}")
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    positive = normal.icdf(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    negative = -normal.icdf(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    values = torch.cat([positive, torch.zeros(1, dtype=torch.float64), negative])
    return (values / values.max()).sort().values.to(torch.float32)


def linear_code_book(bits: int) -> torch.Tensor:
    """2**bits - 1 evenly spaced values in [-1, 1], 0 exact: plain (absmax) integer quantisation.

    The comparison for NF4 (`bits=4`) and the default 8-bit code for the scales (`bits=8`).
    """
    if not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"bits must be an integer from 2 to 8, got {bits!r}")
    levels = 2 ** (bits - 1) - 1
    return torch.arange(-levels, levels + 1, dtype=torch.float32) / levels


@lru_cache(maxsize=8)
def _cached_code(name: str, device: str) -> torch.Tensor:
    code = nf4_code_book() if name == "nf4" else linear_code_book(8)
    return code.to(device)


def _check_code(code: torch.Tensor) -> None:
    if code.ndim != 1 or not 2 <= code.numel() <= 256:
        raise ValueError(f"a code book is a 1-D tensor of 2 to 256 values, got shape {tuple(code.shape)}")
    if not bool((code[1:] > code[:-1]).all()):
        raise ValueError("the code book must be sorted ascending with no repeats: pass code.sort().values")


def quantize_blockwise(
    x: torch.Tensor, code: torch.Tensor, blocksize: int = BLOCKSIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split `x` (flattened) into blocks, scale each by its absmax, and map every value to the index
    of the nearest `code` value. Returns (uint8 indices, float32 absmax per block). Chapter 17.

    The last block may be shorter. A block of zeros gets absmax 0 and decodes to zeros.
    """
    _check_code(code)
    if not isinstance(blocksize, int) or blocksize < 1:
        raise ValueError(f"blocksize must be a positive integer, got {blocksize!r}")
    if not x.is_floating_point():
        raise TypeError(f"quantize_blockwise takes a floating-point tensor, got {x.dtype}: pass x.float()")
    flat = x.detach().reshape(-1).float()
    n = flat.numel()
    if n == 0:
        raise ValueError("nothing to quantise: the tensor is empty")
    if not bool(torch.isfinite(flat).all()):
        raise ValueError("the tensor holds inf or nan values, which have no 4-bit code")
    blocks = math.ceil(n / blocksize)
    padded = F.pad(flat, (0, blocks * blocksize - n)).view(blocks, blocksize)
    absmax = padded.abs().amax(dim=1)
    scaled = padded / torch.where(absmax > 0, absmax, 1.0)[:, None]
    code = code.to(device=flat.device, dtype=torch.float32)
    # Nearest code value = which interval between consecutive midpoints the scaled value falls in.
    midpoints = (code[1:] + code[:-1]) / 2
    indices = torch.bucketize(scaled, midpoints).to(torch.uint8).reshape(-1)
    # a copy when padded: a slice would keep the padding's memory alive
    return (indices[:n].clone() if n < indices.numel() else indices), absmax


def dequantize_blockwise(
    indices: torch.Tensor,
    absmax: torch.Tensor,
    code: torch.Tensor,
    blocksize: int = BLOCKSIZE,
    shape: tuple[int, ...] | torch.Size | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Undo `quantize_blockwise`: code[index] x the block's absmax, reshaped to `shape`."""
    n = indices.numel()
    blocks = math.ceil(n / blocksize)
    if absmax.numel() != blocks:
        raise ValueError(f"{n} values in blocks of {blocksize} need {blocks} absmax values, got {absmax.numel()}")
    values = code.to(device=indices.device, dtype=torch.float32)[indices.reshape(-1).long()]
    values = F.pad(values, (0, blocks * blocksize - n)).view(blocks, blocksize)
    out = (values * absmax.float()[:, None]).reshape(-1)[:n]
    return out.reshape(shape if shape is not None else indices.shape).to(dtype)


def pack_4bit(indices: torch.Tensor) -> torch.Tensor:
    """Two 4-bit indices per byte, the first in the high nibble (bitsandbytes' order); an odd
    count is padded with a zero nibble. Chapter 17."""
    flat = indices.reshape(-1)
    if flat.numel() and int(flat.max()) > 15:
        raise ValueError(f"4-bit indices run from 0 to 15, got {int(flat.max())}")
    flat = F.pad(flat.to(torch.uint8), (0, flat.numel() % 2))
    return (flat[0::2] << 4) | flat[1::2]


def unpack_4bit(packed: torch.Tensor, n: int) -> torch.Tensor:
    """The `n` 4-bit indices that `pack_4bit` stored in `packed` (uint8)."""
    if packed.dtype != torch.uint8:
        raise TypeError(f"packed indices are uint8, got {packed.dtype}")
    if not 0 <= n <= 2 * packed.numel():
        raise ValueError(f"{packed.numel()} bytes hold at most {2 * packed.numel()} indices, asked for {n}")
    flat = packed.reshape(-1)
    return torch.stack([flat >> 4, flat & 0xF], dim=1).reshape(-1)[:n]


@dataclass
class DoubleQuantized:
    """The absmax scales of a 4-bit tensor, quantised: 8-bit indices, one float32 scale per
    `blocksize` of them, and the mean subtracted first (`offset`)."""

    indices: torch.Tensor  # uint8, one per first-level block
    absmax: torch.Tensor  # float32, one per `blocksize` first-level scales
    offset: torch.Tensor  # float32 scalar
    blocksize: int = NESTED_BLOCKSIZE


def double_quantize(
    absmax: torch.Tensor, blocksize: int = NESTED_BLOCKSIZE, code: torch.Tensor | None = None
) -> DoubleQuantized:
    """Quantise the (positive) float32 scales to 8 bits, block-wise (chapter 17).

    Scales are all positive, so a signed code would waste its negative half: the mean is
    subtracted first (as bitsandbytes does) and the centred values are quantised with `code`
    (default: 255 evenly spaced 8-bit levels; bitsandbytes uses its own non-linear "dynamic"
    8-bit code, which can be passed here).
    """
    code = linear_code_book(8) if code is None else code
    absmax = absmax.float()
    offset = absmax.mean()
    indices, nested = quantize_blockwise(absmax - offset, code, blocksize)
    return DoubleQuantized(indices, nested, offset, blocksize)


def double_dequantize(dq: DoubleQuantized, code: torch.Tensor | None = None) -> torch.Tensor:
    """The float32 scales back from `double_quantize` (with the same `code`)."""
    code = linear_code_book(8) if code is None else code
    return dequantize_blockwise(dq.indices, dq.absmax, code, dq.blocksize, (dq.indices.numel(),)) + dq.offset


def quantized_bytes(
    numel: int, blocksize: int = BLOCKSIZE, double_quant: bool = True, nested_blocksize: int = NESTED_BLOCKSIZE
) -> int:
    """Bytes that a tensor of `numel` weights takes in NF4: packed indices plus its scales (float32
    absmax per block, or with `double_quant` one byte per block, a float32 per `nested_blocksize`
    blocks and the float32 offset). The code books are shared, not counted. Chapter 17."""
    blocks = math.ceil(numel / blocksize)
    packed = math.ceil(numel / 2)
    if not double_quant:
        return packed + 4 * blocks
    return packed + blocks + 4 * math.ceil(blocks / nested_blocksize) + 4


def bits_per_parameter(
    blocksize: int = BLOCKSIZE, double_quant: bool = True, nested_blocksize: int = NESTED_BLOCKSIZE
) -> float:
    """Bits per weight for a large tensor: 4 + 32/64 = 4.5 without double quantisation,
    4 + 8/64 + 32/(64 x 256) = 4.127 with it (the QLoRA paper's figures)."""
    if not double_quant:
        return 4 + 32 / blocksize
    return 4 + 8 / blocksize + 32 / (blocksize * nested_blocksize)


def storage_bytes(tensors: nn.Module | Iterable[torch.Tensor]) -> int:
    """Bytes held by a module's parameters and buffers (or by the given tensors), each storage
    counted once: what the model weighs in memory, measured. Chapter 17."""
    if isinstance(tensors, nn.Module):
        tensors = [*tensors.parameters(), *tensors.buffers()]
    seen: dict[int, int] = {}
    for t in tensors:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


class Linear4bit(nn.Module):
    """A frozen Linear layer whose weight is stored in NF4 (packed indices + scales) and
    dequantised on the fly in `forward`; the bias stays in full precision. Chapter 17.

    Nothing in it trains: the quantised weight is buffers, not parameters. `compute_dtype` is the
    precision the weight is dequantised to and multiplied in (float32 on CPU; bfloat16 or float16
    on a GPU, as `bnb_4bit_compute_dtype`). Cast a model to its dtype before quantising it: a
    later `model.half()` would also cast the float32 scales.
    """

    def __init__(
        self,
        linear: nn.Linear,
        blocksize: int = BLOCKSIZE,
        double_quant: bool = True,
        compute_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"Linear4bit quantises an nn.Linear, got {type(linear).__name__}")
        weight = linear.weight.detach()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.blocksize, self.double_quant = blocksize, double_quant
        self.compute_dtype = compute_dtype or weight.dtype
        indices, absmax = quantize_blockwise(weight, _cached_code("nf4", str(weight.device)), blocksize)
        self.register_buffer("packed", pack_4bit(indices))
        if double_quant:
            dq = double_quantize(absmax)
            self.register_buffer("absmax", dq.indices)
            self.register_buffer("absmax_scale", dq.absmax)
            self.register_buffer("absmax_offset", dq.offset)
        else:
            self.register_buffer("absmax", absmax)
        bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        self.bias = bias

    def scales(self) -> torch.Tensor:
        """The float32 absmax of every block (dequantised first when double-quantised)."""
        if not self.double_quant:
            return self.absmax
        dq = DoubleQuantized(self.absmax, self.absmax_scale, self.absmax_offset, NESTED_BLOCKSIZE)
        return double_dequantize(dq, _cached_code("int8", str(self.absmax.device)))

    def dequantize(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The [out, in] weight as the forward pass sees it."""
        n = self.in_features * self.out_features
        indices = unpack_4bit(self.packed, n)
        code = _cached_code("nf4", str(self.packed.device))
        return dequantize_blockwise(indices, self.scales(), code, self.blocksize,
                                    (self.out_features, self.in_features), dtype or self.compute_dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is not None and self.bias.requires_grad:
            raise ValueError("a Linear4bit's bias does not train (its gradient is not computed): "
                             "freeze it with layer.bias.requires_grad_(False), or train a LoRA adapter")
        return _Matmul4bit.apply(x, self)

    def weight_bytes(self) -> int:
        """Bytes of the stored quantised weight (indices and scales, not the bias), measured."""
        names = ("packed", "absmax", "absmax_scale", "absmax_offset")
        return storage_bytes([getattr(self, n) for n in names if hasattr(self, n)])

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"nf4, blocksize={self.blocksize}, double_quant={self.double_quant}, "
                f"compute_dtype={self.compute_dtype}")


class _Matmul4bit(torch.autograd.Function):
    """x @ W.T + b with W dequantised in forward and again in backward: autograd keeps nothing of
    the weight but the 4-bit layer itself (a plain F.linear would save the dequantised weight of
    every layer until the backward pass, as much memory as unquantised weights)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, layer: Linear4bit) -> torch.Tensor:
        ctx.layer = layer
        weight = layer.dequantize()
        bias = None if layer.bias is None else layer.bias.to(weight.dtype)
        return F.linear(x.to(weight.dtype), weight, bias).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        weight = ctx.layer.dequantize()
        return (grad_out.to(weight.dtype) @ weight).to(grad_out.dtype), None


def saved_for_backward_bytes(model: Callable[..., torch.Tensor], *args, **kwargs) -> int:
    """Bytes that autograd keeps for the backward pass after one forward of `model(*args, **kwargs)`
    (activations and any weights it saved), measured with saved-tensor hooks. Chapter 17."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.device.type != "meta":
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(*args, **kwargs)
    del out
    return sum(storages.values())


def peak_training_memory(model: nn.Module, batch: dict[str, torch.Tensor], lr: float = 1e-4,
                         autocast_dtype: torch.dtype | None = None) -> int:
    """CUDA bytes one AdamW training step of `model` on `batch` (a dict with `labels`) needs at
    its peak: the model's own tensors plus what the step allocates (gradients, Adam states,
    activations), measured, whatever else is on the GPU. Model and batch already on the GPU;
    autocast to `autocast_dtype` when given. Chapter 17."""
    if not torch.cuda.is_available():
        raise RuntimeError("peak_training_memory measures CUDA memory: run it on a GPU")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameter: apply LoRA (or unfreeze) first")
    optimizer = torch.optim.AdamW(trainable, lr=lr)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    baseline = torch.cuda.memory_allocated()
    with torch.autocast("cuda", dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
        loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - baseline
    del optimizer
    return peak + storage_bytes(model)


class Linear4bitWithLoRA(nn.Module):
    """A frozen `Linear4bit` plus chapter 04's `LoRALayer` in full precision: the QLoRA layer.

    Only A and B train; the update cannot be merged into 4-bit weights without quantising it
    (and losing most of it), so it stays beside them.
    """

    def __init__(self, base: Linear4bit, rank: int, alpha: float, convention: str = "peft",
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if not isinstance(base, Linear4bit):
            raise TypeError(f"Linear4bitWithLoRA wraps a Linear4bit (quantize_model first), got {type(base).__name__}")
        self.base = base
        self.lora = LoRALayer(base.in_features, base.out_features, rank, alpha, convention)
        self.lora.to(device=base.packed.device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.lora(x.to(self.lora.A.dtype)).to(x.dtype)


def _named(model: nn.Module, kind: type, targets: str | Iterable[str] | None) -> list[str]:
    names = [n for n, m in model.named_modules() if isinstance(m, kind) and n]
    if targets is None:
        return names
    targets = [targets] if isinstance(targets, str) else list(targets)
    chosen = [n for n in names if any(n == t or n.endswith("." + t) for t in targets)]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing or not targets:
        raise ValueError(f"target(s) {missing or targets} match no {kind.__name__} in {type(model).__name__}; "
                         f"its {kind.__name__} layers include: {', '.join(names[:8]) or 'none'}")
    return chosen


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def quantize_model(
    model: nn.Module,
    skip: Iterable[str] = ("lm_head",),
    blocksize: int = BLOCKSIZE,
    double_quant: bool = True,
    compute_dtype: torch.dtype | None = None,
) -> list[str]:
    """Replace every nn.Linear of `model` (but those whose name ends with one in `skip`: the output
    layer, tied to the embeddings, stays as it is, as in bitsandbytes) by a `Linear4bit`, in place,
    and freeze the model. Returns the names quantised. Chapter 17."""
    skip = tuple(skip)
    names = [n for n in _named(model, nn.Linear, None) if not any(n == s or n.endswith("." + s) for s in skip)]
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Linear to quantise (skipping {list(skip)})")
    for name in names:
        _replace(model, name, Linear4bit(model.get_submodule(name), blocksize, double_quant, compute_dtype))
    freeze(model)
    return names


def apply_qlora(
    model: nn.Module,
    rank: int,
    alpha: float,
    target_modules: str | Iterable[str] | None = None,
    convention: str = "peft",
) -> list[str]:
    """Put a full-precision `LoRALayer` beside each `Linear4bit` a target names (default: all of
    them, as the QLoRA paper does), freeze everything else; returns the wrapped names. Chapter 17.

    A target is a module name or its last parts (`"q_proj"`); one that matches nothing raises.
    """
    names = _named(model, Linear4bit, target_modules)
    if not names:
        raise ValueError(f"{type(model).__name__} has no Linear4bit layers; call quantize_model(model) first")
    LoRALayer(1, 1, rank, alpha, convention)  # validate the settings before touching the model
    freeze(model)
    for name in names:
        _replace(model, name, Linear4bitWithLoRA(model.get_submodule(name), rank, alpha, convention))
    return names


def _drop_missing_kernels_notice(record: logging.LogRecord) -> bool:
    return "kernels-community" not in record.getMessage()


def bitsandbytes_functional() -> ModuleType | None:
    """`bitsandbytes.functional` (its quantize_4bit/dequantize_4bit, to compare with), or None when
    bitsandbytes is not installed. Chapter 17.

    On CPUs with AVX-512 its CPU backend logs at import that an optional package of faster kernels
    (`kernels`) is absent; that notice concerns a matrix product we do not use and is filtered.
    """
    if importlib.util.find_spec("bitsandbytes") is None:
        return None
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_drop_missing_kernels_notice)
    return importlib.import_module("bitsandbytes.functional")


# ---------------------------------------------------------------------------------------------
# Quantisation error and adapter size, as chapter 17 measures them
def relative_error(weight: torch.Tensor, code: torch.Tensor, blocksize: int = BLOCKSIZE) -> float:
    """The round-trip error of block-wise quantisation: root mean square of (weight -
    dequantised), relative to the weights' own root mean square. Chapter 17."""
    indices, absmax = quantize_blockwise(weight, code, blocksize)
    back = dequantize_blockwise(indices, absmax, code, blocksize, weight.shape)
    return ((weight - back).pow(2).mean() / weight.pow(2).mean()).sqrt().item()


def rounding_bound(absmax: torch.Tensor, code: torch.Tensor, shape: torch.Size | tuple[int, ...],
                   blocksize: int = BLOCKSIZE) -> torch.Tensor:
    """The largest error rounding to `code` can make on each weight: half the widest gap between
    two code values, times its block's absmax (a tensor of `shape`). Chapter 17."""
    half_gap = (code[1:] - code[:-1]).max() / 2
    n = math.prod(shape)
    return (half_gap * absmax).repeat_interleave(blocksize)[:n].view(shape)


def lora_parameter_count(model: nn.Module, rank: int, exclude: str = "lm_head") -> int:
    """The adapter parameters of LoRA with `rank` on every `nn.Linear` of `model` (any device,
    `meta` included) but those whose name ends with `exclude`: r (in + out) each. Chapter 17."""
    if rank < 1:
        raise ValueError(f"rank must be a positive integer, got {rank}")
    return sum(rank * (m.in_features + m.out_features) for n, m in model.named_modules()
               if isinstance(m, nn.Linear) and not n.endswith(exclude))


def bitsandbytes_parity(weight: torch.Tensor, indices: torch.Tensor, absmax: torch.Tensor,
                        blocksize: int = BLOCKSIZE) -> dict[str, float]:
    """Our NF4 quantisation of `weight` (its `indices`, `absmax`) against bitsandbytes'
    `quantize_4bit` of it: the same scales (1.0 or 0.0), the share of equal indices, and the largest
    difference between our dequantisation of its bytes and its own. {} without bitsandbytes.
    Chapter 17."""
    bnbf = bitsandbytes_functional()
    if bnbf is None:
        return {}
    packed, state = bnbf.quantize_4bit(weight, blocksize=blocksize, quant_type="nf4")
    theirs = unpack_4bit(packed.reshape(-1), weight.numel())
    ours_of_theirs = dequantize_blockwise(theirs, state.absmax, nf4_code_book(), blocksize,
                                          weight.shape)
    return {
        "same_absmax": float(torch.equal(state.absmax, absmax)),
        "same_indices_share": (theirs == indices).float().mean().item(),
        "dequantized_max_diff": (ours_of_theirs - bnbf.dequantize_4bit(packed, state)).abs().max().item(),
    }


# ---------------------------------------------------------------------------------------------
# Memory: full fine-tuning, LoRA and QLoRA, computed
def training_memory(model: nn.Module, lora_params: int, quantized: Iterable[str] | None = None,
                    base_bytes: int = 2, blocksize: int = BLOCKSIZE,
                    double_quant: bool = True) -> dict[str, dict[str, int]]:
    """Bytes of weights, gradients and Adam states of three ways to fine-tune `model` (any device,
    `meta` included), activations aside. Chapter 17.

    - full fine-tuning: every weight trains in float32 (4 bytes, its gradient 4, Adam's two
      moments 8);
    - LoRA: the frozen base in `base_bytes` per weight (2: bfloat16/float16), `lora_params`
      adapter weights trained in float32;
    - QLoRA: the Linear weights named in `quantized` (default: every Linear but `lm_head`) in NF4,
      the rest of the base in `base_bytes`, the same adapter.
    """
    total = count_parameters(model).total
    if quantized is None:
        quantized = [n for n in _named(model, nn.Linear, None) if not n.endswith("lm_head")]
    quant_weights = [model.get_submodule(n).weight.numel() for n in quantized]
    nf4 = sum(quantized_bytes(n, blocksize, double_quant) for n in quant_weights)
    adapter = {"gradients": 4 * lora_params, "optimizer": 8 * lora_params}
    return {
        "full fine-tuning": {"weights": 4 * total, "gradients": 4 * total, "optimizer": 8 * total},
        "LoRA": {"weights": base_bytes * total + 4 * lora_params, **adapter},
        "QLoRA": {"weights": nf4 + base_bytes * (total - sum(quant_weights)) + 4 * lora_params, **adapter},
    }


__all__ = [
    "BLOCKSIZE",
    "NESTED_BLOCKSIZE",
    "NF4_OFFSET",
    "DoubleQuantized",
    "Linear4bit",
    "Linear4bitWithLoRA",
    "apply_qlora",
    "bits_per_parameter",
    "bitsandbytes_functional",
    "bitsandbytes_parity",
    "dequantize_blockwise",
    "double_dequantize",
    "double_quantize",
    "linear_code_book",
    "lora_parameter_count",
    "nf4_code_book",
    "pack_4bit",
    "peak_training_memory",
    "quantize_blockwise",
    "quantize_model",
    "quantized_bytes",
    "relative_error",
    "rounding_bound",
    "saved_for_backward_bytes",
    "storage_bytes",
    "training_memory",
    "unpack_4bit",
]
