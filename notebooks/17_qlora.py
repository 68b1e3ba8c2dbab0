# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 17. QLoRA: LoRA on a 4-bit base model
#
# LoRA (chapter 04) trains a few parameters, but the frozen model still sits in memory in 16 or 32
# bits per weight. **QLoRA** (Dettmers et al., 2023, "QLoRA: Efficient Finetuning of Quantized
# LLMs") stores the frozen weights in 4 bits and trains LoRA adapters in full precision on top:
# the paper fine-tunes a 65-billion-parameter model on one 48 GB GPU (their figure). Its pieces,
# each written here from scratch in `ftcourse.quant` and compared with `bitsandbytes`, the library
# that PEFT and transformers use for it:
#
# 1. **NF4**, a 4-bit data type whose 16 values sit at quantiles of the normal distribution;
# 2. **block-wise absmax quantisation**: each block of 64 weights is scaled by its largest
#    absolute value, so one outlier spoils only its own block;
# 3. **double quantisation**: the scales themselves stored in 8 bits;
# 4. a `Linear4bit` layer that dequantises its weight on the fly, forward *and* backward, with
#    chapter 04's `LoRALayer` beside it, the only part that trains.
#
# (The paper's third idea, *paged optimizers* that move optimizer states to CPU memory when the
# GPU runs out, is a memory-management feature of bitsandbytes: explained below, not built.)
#
# Then we fine-tune the chapter-11 model (`facebook/opt-350m` on `full`, a tiny OPT on `ci`) with
# QLoRA and with plain LoRA, and compare the memory of full fine-tuning, LoRA and QLoRA: computed
# for the real model, measured on this machine, and on a GPU when there is one.

# %% tags=["remove-cell"]
# Installs the companion package when this notebook runs in Colab (with the qlora extra).
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse[sft,qlora] @ git+https://github.com/ftcourse/ftcourse@main"
    # !python -m ftcourse doctor
    pass

# %%
import copy
import tempfile
from pathlib import Path

import ftcourse  # first: it quiets notices that importing transformers prints (ftcourse._quiet)
import datasets
import matplotlib.pyplot as plt
import torch
import transformers
from IPython.display import Markdown
from torch import nn

from ftcourse import catalog, experiment, hf, pages, quant, results, sft
from ftcourse.adapt import count_parameters
from ftcourse.adapt.lora import LoRALayer, apply_lora
from ftcourse.tables import markdown_table

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
# each method trained once per seed; full keeps one run because of its GPU budget
SEEDS = ftcourse.choose(ci=(0, 1, 2), full=(0,))
N_TRAIN = ftcourse.choose(ci=256, full=2000)  # conversations for each fine-tuning run
N_EVAL = ftcourse.choose(ci=40, full=100)  # held-out conversations (loss on the answers)
EPOCHS = ftcourse.choose(ci=3, full=1)
BATCH_SIZE = ftcourse.choose(ci=16, full=8)
MAX_LENGTH = ftcourse.choose(ci=128, full=512)
# full: the QLoRA paper's 2e-4; ci: a tiny model takes larger steps
LR = ftcourse.choose(ci=2e-2, full=2e-4)
# full: the paper's r=64, alpha=16 on every linear layer
RANK, ALPHA = ftcourse.choose(ci=8, full=64), 16
# full: a few conversations are longer than MAX_LENGTH
MAX_DROPPED = ftcourse.choose(ci=0.0, full=0.02)
SAMPLING = ftcourse.choose(ci="random", full="group_by_length")
# sequences of MAX_LENGTH tokens in the one training step whose GPU memory is measured
MEMORY_BATCH = 2
timer = results.Timer()
ftcourse.set_seed(SEED)
datasets.disable_progress_bars()
DEVICE = ftcourse.device()
PRECISION = ftcourse.training_precision()
COMPUTE_DTYPE = PRECISION.autocast_dtype or torch.float32  # bfloat16 or float16 on a GPU
bnbf = quant.bitsandbytes_functional()  # None without bitsandbytes
HAS_BNB = bnbf is not None
RUN_BNB = PROFILE == "full" and DEVICE.type == "cuda" and HAS_BNB
print(f"profile={PROFILE} device={DEVICE} precision={PRECISION.name} bitsandbytes={HAS_BNB} torch "
      f"{torch.__version__}")

# %% [markdown]
# What the `full` run of this chapter costs, from the measured step (the `ci` run on this page
# takes seconds):

# %%
Markdown(catalog.budget_markdown("17"))

# %% [markdown]
# No source document covers QLoRA: the sizes are the QLoRA paper's where it gives them (rank 64,
# alpha 16, learning rate 2e-4) and chapter 12's otherwise, and the bitsandbytes + PEFT version
# runs only on `full` with a GPU.

# %%
pages.banner("17_qlora")

# %% [markdown]
# ## What fine-tuning keeps in memory
#
# Training with Adam keeps, for every weight that trains, the weight, its gradient and two moving
# averages (Adam's first and second moments), each in float32: 16 bytes per parameter. For every
# weight that is only *used*, it keeps the weight alone. Activations (what the forward pass saves
# for the backward pass) come on top and grow with the batch and the sequence length; they are
# left out of this table. `quant.training_memory` computes it for three ways to fine-tune:
#
# - **full fine-tuning**: every weight trains, in float32;
# - **LoRA**: the base frozen in 16 bits (2 bytes), the adapters (rank $r$ on every linear layer)
#   training in float32;
# - **QLoRA**: the linear layers of the base in NF4 with double quantisation (4.127 bits), the
#   rest (embeddings, layer norms) in 16 bits, the same adapters.
#
# For the chapter's `full` model and, for scale, a 7-billion-parameter model (transformers'
# `LlamaConfig()` defaults are Llama-2-7B's sizes), both built on PyTorch's `meta` device, which
# allocates nothing:

# %%
def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f}"


with torch.device("meta"):
    big_models = {
        "facebook/opt-350m":
            transformers.AutoModelForCausalLM.from_config(catalog.full_config("sft")),
        "7B (Llama-2-7B sizes)":
            transformers.AutoModelForCausalLM.from_config(transformers.LlamaConfig()),
    }
rows, computed = [], {}
for model_name, meta_model in big_models.items():
    n_lora = quant.lora_parameter_count(meta_model, 64)  # the paper's rank, on every linear layer
    table = quant.training_memory(meta_model, n_lora)
    computed[model_name] = table
    for method, parts in table.items():
        rows.append((model_name, f"{count_parameters(meta_model).total / 1e6:,.0f}M", method,
                     gib(parts["weights"]), gib(parts["gradients"]), gib(parts["optimizer"]),
                     gib(sum(parts.values()))))
Markdown(markdown_table(rows, ["model", "parameters", "method", "weights GiB", "gradients GiB",
                               "Adam states GiB", "total GiB"]))

# %%
seven = computed["7B (Llama-2-7B sizes)"]
Markdown(
    f"For the 7B model, full fine-tuning needs {gib(sum(seven['full fine-tuning'].values()))} GiB "
    "before a single activation. LoRA cuts the gradients and optimizer states to those of the "
    f"adapters but still holds {gib(seven['LoRA']['weights'])} GiB of weights; QLoRA holds "
    f"{gib(seven['QLoRA']['weights'])} GiB (the embeddings "
    "and output layer stay in 16 bits, the adapters in float32), which is why a 7B model can be "
    "fine-tuned on a free 16 GB GPU. For OPT-350m the weights are small either way: there the "
    "activations of long sequences dominate."
)

# %% [markdown]
#
# ## The NF4 code book
#
# A 4-bit number has 16 possible values. Plain integer quantisation spaces them evenly
# between -1 and 1. But trained weights are roughly normally distributed: most lie near zero, few
# in the tails, so evenly spaced levels waste codes on the tails and are coarse where the weights
# crowd. **NormalFloat** puts the levels at *quantiles* of the standard normal distribution, so
# each level covers about the same share of weights.
#
# Two details from the paper. A symmetric set of 16 quantiles has no exact zero (zero would fall
# between the 8th and 9th), and zero matters (padding, pruned weights, and it should stay zero), so
# NF4 takes 8 quantiles for the positive half and 7 for the negative half, plus 0. And the
# outermost quantile is not the normal's infinite tail: the probabilities run from an `offset`
# of 0.9677 (halfway between $1 - \frac{1}{2 \cdot 15}$ and $1 - \frac{1}{2 \cdot 16}$) to 0.5.
# Each half is divided by its largest value so that the code book spans exactly $[-1, 1]$:

# %%
pages.show_code(quant.nf4_code_book)

# %%
nf4 = quant.nf4_code_book()
int4 = quant.linear_code_book(4)
print("NF4: ", [round(v, 4) for v in nf4.tolist()])
print("int4:", [round(v, 4) for v in int4.tolist()])
if HAS_BNB:
    bnb_nf4 = bnbf.get_4bit_type("nf4", device="cpu")
    code_book_diff = (nf4 - bnb_nf4).abs().max().item()
    print(f"largest difference from bitsandbytes' NF4 constants: {code_book_diff:.1e}")
else:
    code_book_diff = float("nan")
    print("bitsandbytes is not installed (pip install 'ftcourse[qlora]'): tests/test_quant.py "
          "compares the code book with its 16 documented constants instead")

# %% [markdown]
# The two agree to about 2e-7: bitsandbytes' constants were computed in float32 from an offset
# rounded to 0.9677083, ours in float64 from the exact one, and both are stored as float32 (one
# float32 step at 0.7 is 6e-8). Plotted against the normal distribution:

# %%
fig, ax = plt.subplots(figsize=(8, 2.6))
grid = torch.linspace(-3, 3, 400)
edge = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(quant.NF4_OFFSET))  # maps to 1
ax.plot(grid / edge, torch.distributions.Normal(0, 1).log_prob(grid).exp(), color="0.6",
        label="N(0, 1), scaled to [-1, 1] at its NF4 offset quantile")
ax.vlines(nf4, 0, 0.45, color="C0", label="NF4 (16 values)")
ax.vlines(int4, 0.45, 0.55, color="C3", label="int4 (15 evenly spaced values)")
ax.set_yticks([]), ax.set_xlabel("value / block absmax"), ax.legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# ## Block-wise absmax quantisation and packing
#
# To quantise a weight matrix, flatten it and cut it into blocks of 64 values. In each block,
# divide by the block's largest absolute value (its **absmax**), so the values lie in $[-1, 1]$,
# and replace each by the index of the nearest code-book value. Keep the indices (4 bits each,
# two packed in a byte) and the absmax of every block (a float32 scale). To dequantise: code
# book value times the block's absmax.
#
# Why blocks: a single large weight (an *outlier*, common in large language models) sets the
# scale of everything it shares a scale with. With one scale for the whole matrix, one outlier
# squeezes every other weight into a few codes near zero; with blocks of 64 it affects 63 others.

# %%
pages.show_code(quant.quantize_blockwise, quant.pack_4bit)

# %% [markdown]
# ## The model, and one of its weights
#
# On `full` the pre-trained `facebook/opt-350m` of chapter 11. On `ci` the tiny OPT chapter 11
# starts from, pre-trained here for seconds on the generated small world (`hf.describe` below):
# like OPT-350m it knows facts but has never seen a conversation, so the adapters on its frozen
# (here 4-bit) weights teach it to answer, which is what QLoRA is for. The weight we quantise
# below is one of its pre-trained matrices, the first feed-forward layer of its first block: what
# pre-training left, not what an initialiser drew.

# %%
data = sft.load_guanaco()
train_records = data.prompt_completion("train")[:N_TRAIN]
eval_records = data.prompt_completion("eval")[:N_EVAL]
print(data.source, f"| train {len(train_records)} held-out {len(eval_records)}")
print(hf.describe("sft"))
tokenizer = hf.load_tokenizer("sft")


def base_model(dtype=torch.float32):
    """A fresh copy of the chapter's base model (the cached pre-trained stand-in on ci, the
    hub's weights on full)."""
    return hf.load_model("sft", seed=SEED, dtype=dtype).to(DEVICE)


base = base_model()
print(count_parameters(base))
fc1 = base.model.decoder.layers[0].fc1
weight = fc1.weight.detach().cpu()
print(f"layers.0.fc1: {tuple(weight.shape)}, {weight.numel():,} weights, std {weight.std():.4f}")

# %%
indices, absmax = quant.quantize_blockwise(weight, nf4)
packed = quant.pack_4bit(indices)
restored = quant.dequantize_blockwise(indices, absmax, nf4, quant.BLOCKSIZE, weight.shape)
print(f"first 8 weights:     {[round(v, 4) for v in weight.reshape(-1)[:8].tolist()]}")
print(f"their NF4 indices:   {indices[:8].tolist()}  packed in 4 bytes: {packed[:4].tolist()}")
print(f"dequantised:         {[round(v, 4) for v in restored.reshape(-1)[:8].tolist()]}")
print(f"{absmax.numel()} blocks of {quant.BLOCKSIZE}; first absmax {absmax[0]:.4f}")
bound = quant.rounding_bound(absmax, nf4, weight.shape)
round_trip_within_bound = bool(((weight - restored).abs() <= bound * (1 + 1e-6)).all())
print(f"every error within half the widest NF4 gap x its block's absmax: {round_trip_within_bound}")

# %% [markdown]
# How the error depends on the code book and the block size, on this weight and on the same
# weight with one outlier planted (one weight set to 20 times the largest). Error is the root mean
# square of (weight - dequantised), relative to the weights' own root mean square
# (`quant.relative_error`):

# %%
outlier = weight.clone()
outlier.view(-1)[100] = 20 * weight.abs().max()
errors = {}
rows = []
for code_name, code in (("NF4", nf4), ("int4", int4)):
    for blocksize in (64, 1024, weight.numel()):
        bits = 4 + 32 / blocksize
        e = quant.relative_error(weight, code, blocksize)
        e_out = quant.relative_error(outlier, code, blocksize)
        errors[(code_name, blocksize)] = (e, e_out)
        label = "whole matrix" if blocksize == weight.numel() else f"{blocksize}"
        rows.append((code_name, label, bits, e, e_out))
Markdown(markdown_table(rows, ["code", "block size", "bits per weight", "error",
                               "error with one outlier"]))

# %%
e_nf4, e_int4 = errors[("NF4", 64)][0], errors[("int4", 64)][0]
Markdown(
    f"With blocks of 64, NF4's error is {e_nf4:.3f} of the weights' size against {e_int4:.3f} for "
    "evenly spaced levels. With a single scale for the whole matrix, the planted outlier raises "
    f"NF4's error from {errors[('NF4', weight.numel())][0]:.3f} to "
    f"{errors[('NF4', weight.numel())][1]:.3f}; with blocks of 64 from "
    f"{errors[('NF4', 64)][0]:.3f} to {errors[('NF4', 64)][1]:.3f}. Smaller blocks cost more "
    "scales: 32 bits per block is half a bit per weight at 64, which is what double quantisation "
    "cuts."
)

# %% [markdown]
# ## Double quantisation
#
# With blocks of 64, the float32 scales add $32/64 = 0.5$ bit per weight: 4.5 bits in all. The
# QLoRA paper quantises the scales too: they are block-wise quantised to 8 bits, in blocks of
# 256 scales with one float32 second-level scale each. The scales are all positive, so their mean
# is subtracted first (a signed code would waste its negative half otherwise). Per weight:
# $8/64 + 32/(64 \cdot 256) = 0.127$ bit for the scales, 4.127 bits in all. For a 65B model the
# paper counts this as about 3 GB saved. Our 8-bit code for the scales is 255 evenly spaced
# levels; bitsandbytes uses its own non-linear "dynamic" 8-bit code, which `double_quantize`
# accepts too (the test suite checks that, given that code, it finds bitsandbytes' very indices).

# %%
pages.show_code(quant.double_quantize)

# %%
dq = quant.double_quantize(absmax)
scales_back = quant.double_dequantize(dq)
scale_error = ((absmax - scales_back).abs() / absmax).max().item()
print(f"{absmax.numel()} scales -> {dq.indices.numel()} bytes + {dq.absmax.numel()} float32 + the "
      f"offset {dq.offset.item():.4f}; largest relative error of a scale: {scale_error:.2e}")
for double in (False, True):
    print(f"double_quant={double!s:5}: {quant.bits_per_parameter(double_quant=double):.3f} bits "
          f"per weight; fc1 takes {quant.quantized_bytes(weight.numel(), double_quant=double):,} "
          f"bytes (float32: {4 * weight.numel():,}, 16-bit: {2 * weight.numel():,})")

# %% [markdown]
# ## A Linear layer in 4 bits
#
# `Linear4bit` quantises an `nn.Linear` once and keeps only the packed indices and the
# double-quantised scales, as *buffers*: they move with the model to a device and are saved with
# it, but they are not parameters, so no optimizer can touch them. Its forward pass dequantises
# the weight to the compute precision (bfloat16 or float16 on a GPU, like bitsandbytes'
# `bnb_4bit_compute_dtype`) and multiplies. So does its backward pass: a plain `F.linear` would
# make autograd *keep* the dequantised weight of every layer until the backward pass, which is
# as much memory as the unquantised model. The custom autograd function dequantises it again.

# %%
pages.show_code(quant.Linear4bit, quant._Matmul4bit)

# %%
fc1 = copy.deepcopy(fc1).cpu().requires_grad_(False)
fc1_4bit = quant.Linear4bit(fc1)
x = torch.randn(4, fc1.in_features, requires_grad=True)
with torch.no_grad():
    layer_rel_error = ((fc1_4bit(x) - fc1(x)).norm() / fc1(x).norm()).item()
layer_measured = fc1_4bit.weight_bytes()
layer_computed = quant.quantized_bytes(weight.numel())
saved_4bit = quant.saved_for_backward_bytes(fc1_4bit, x)
dequantised = fc1_4bit.dequantize()
saved_plain = quant.saved_for_backward_bytes(lambda t: nn.functional.linear(t, dequantised,
                                                                            fc1.bias), x)
print(fc1_4bit)
print(f"output error relative to the float32 layer: {layer_rel_error:.3f}")
print(f"stored weight: measured {layer_measured:,} bytes, computed {layer_computed:,} (float32: "
      f"{4 * weight.numel():,})")
print(f"kept for the backward pass: {saved_plain:,} bytes with F.linear on the dequantised weight, "
      f"{saved_4bit:,} with Linear4bit")

# %% [markdown]
# ## Parity with bitsandbytes
#
# `bitsandbytes.functional.quantize_4bit` does the same on its CPU backend (recent releases run
# it without a GPU). The same weight through both: the same blocks and scales, the same 4-bit
# indices (but for values that fall within 1e-6 of the midpoint between two codes, where either
# is as near and the two implementations round differently), and our dequantisation of *its*
# bytes gives its dequantised weight. `tests/test_quant.py` checks the same on several shapes and
# for double quantisation.

# %%
parity = quant.bitsandbytes_parity(weight, indices, absmax)
print(parity or "bitsandbytes is not installed: pip install 'ftcourse[qlora]' to compare")

# %% [markdown]
# ## The paper's third idea: paged optimizers
#
# The QLoRA paper has a third idea besides NF4 and double quantisation: **paged optimizers**.
# A long sequence in a batch can make a training step's memory spike past the GPU's and crash
# the run; bitsandbytes' paged optimizers keep the Adam states in NVIDIA unified memory, which
# the driver moves to CPU memory page by page when the GPU runs short and back when they are
# needed. They change where the states live, not how many bytes they take, so the memory tables
# here leave them out; on `full` they are one argument away (`optim="paged_adamw_32bit"` in the
# trainer's config).
#
# ## QLoRA from scratch on the chapter's model
#
# `quantize_model` replaces every `nn.Linear` except the output layer (which is the embedding
# matrix, tied, as bitsandbytes leaves it too) by a `Linear4bit`; `apply_qlora` puts chapter 04's
# `LoRALayer` beside each, in float32, and freezes everything else. The QLoRA paper puts adapters
# on every linear layer: with fewer, it found, 4-bit fine-tuning falls short of full 16-bit
# fine-tuning.

# %%
pages.show_code(quant.Linear4bitWithLoRA)

# %%
qlora_model = base_model(COMPUTE_DTYPE)
bytes_before = quant.storage_bytes(qlora_model)
quantized_names = quant.quantize_model(qlora_model, compute_dtype=COMPUTE_DTYPE)
bytes_after = quant.storage_bytes(qlora_model)
linear_weights = sum(m.in_features * m.out_features for n, m in base.named_modules()
                     if n in quantized_names)
print(f"{len(quantized_names)} linear layers in NF4, e.g. {quantized_names[:3]}")
print(f"model in memory: {bytes_before:,} bytes -> {bytes_after:,} "
      f"({linear_weights:,} of {count_parameters(base).total:,} parameters are linear-layer "
      "weights)")
quant.apply_qlora(qlora_model, RANK, ALPHA)
qlora_counts = count_parameters(qlora_model)
print(qlora_counts, "(the 4-bit weights are buffers, not counted)")
snapshot = {k: v.clone() for k, v in qlora_model.state_dict().items()
            if k.endswith((".packed", ".absmax"))}

# %% [markdown]
# Each run below: the held-out loss on the answers before and after training, with chapter 11's
# trainer (loss on the answers only). The second run is plain LoRA with the same rank on the same
# layers of the unquantised model: the paper's claim is that the 4-bit base costs little.
# `sft.train_and_measure` (chapter 12) runs and measures each, here without generating answers.

# %%
runs, by_seed, workdir = {}, {}, Path(tempfile.mkdtemp(prefix="ftcourse-qlora-"))


def sft_run(name, model, seed=SEED):
    run, _ = sft.train_and_measure(
        name, model, tokenizer, train_records, eval_records, output_dir=workdir / f"{name}{seed}",
        answers=False, seed=seed, epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE,
        max_length=MAX_LENGTH, max_dropped=MAX_DROPPED, train_sampling_strategy=SAMPLING)
    by_seed.setdefault(name, []).append(run)
    runs.setdefault(name, run.summary())  # the first seed's run
    print(f"{name}, seed {seed}: held-out loss {run.metrics['eval_loss_before']:.3f} -> "
          f"{run.metrics['eval_loss_after']:.3f} in {run.seconds:.1f} s")


sft_run("qlora", qlora_model)
after_state = qlora_model.state_dict()
weights_untouched = all(torch.equal(v, after_state[k]) for k, v in snapshot.items())
print(f"the 4-bit weights after training are bit for bit those before: {weights_untouched}")

# %%
lora_model = base_model(COMPUTE_DTYPE)
apply_lora(lora_model, quantized_names, rank=RANK, alpha=ALPHA)
# the adapters train in float32 (LinearWithLoRA gives them the base's dtype)
for module in lora_model.modules():
    if isinstance(module, LoRALayer):
        module.float()
print(count_parameters(lora_model))
sft_run("lora", lora_model)

# %% [markdown]
# ### Over several seeds
#
# Each run is one draw: the seed fixes the adapters' random initial weights (LoRA's A matrices)
# and the order of the training batches. So both methods are trained again with the other seeds
# in `SEEDS`, on the same base model (it stands for the pre-trained model, which a seed does not
# change), quantised the same way. The spread of the held-out loss over the seeds is the noise the
# verdict at the end holds the gap between QLoRA and LoRA to; a loss has no test-set formula for
# its noise, so with one seed (`full`, where a run costs GPU time) there is no verdict.

# %%
def adapted(quantized, seed):
    """The base with adapters initialised from `seed`: QLoRA on the 4-bit base, or LoRA."""
    model = base_model(COMPUTE_DTYPE)
    ftcourse.set_seed(seed)
    if quantized:
        quant.quantize_model(model, compute_dtype=COMPUTE_DTYPE)
        quant.apply_qlora(model, RANK, ALPHA)
        return model
    apply_lora(model, quantized_names, rank=RANK, alpha=ALPHA)
    for module in model.modules():
        if isinstance(module, LoRALayer):
            module.float()
    return model


for seed in SEEDS[1:]:
    for name in ("qlora", "lora"):
        sft_run(name, adapted(name == "qlora", seed), seed)
Markdown(experiment.seed_table([by_seed["qlora"], by_seed["lora"]], "eval_loss_after",
                               first="held-out loss after training"))

# %% [markdown]
# Lower is better: each method's held-out loss after training per seed, then its mean and
# standard deviation (sd) over the seeds. The verdict at the end compares the two means.

# %% [markdown]
# ## The same with bitsandbytes and PEFT (`full`, on a GPU)
#
# The library version: transformers loads the model with a `BitsAndBytesConfig` (NF4, double
# quantisation, the compute dtype), replacing its linear layers by `bitsandbytes.nn.Linear4bit`;
# PEFT's `prepare_model_for_kbit_training` freezes it and casts the layer norms to float32 for
# stability; `LoraConfig` on the same layers. The bitsandbytes 4-bit layers run on CUDA (its CPU
# backend quantises, but this training path is for GPUs), so this section runs only on `full`
# with a GPU. Gradient checkpointing, which the paper also uses, is off here as in the runs above,
# so that the memory measured compares the same things.

# %%
bnb_memory = {}
if RUN_BNB:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    bnb_config = transformers.BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=COMPUTE_DTYPE,
    )
    bnb_model = hf.load_model("sft", quantization_config=bnb_config,
                              device_map={"": DEVICE.index or 0},
                              dtype=COMPUTE_DTYPE)
    bnb_model = prepare_model_for_kbit_training(bnb_model, use_gradient_checkpointing=False)
    bnb_model = get_peft_model(bnb_model,
                               LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, bias="none",
                                          target_modules=quantized_names, task_type="CAUSAL_LM"))
    bnb_model.print_trainable_parameters()
    print(f"bitsandbytes model in memory: {bnb_model.get_memory_footprint():,} bytes")
    sft_run("qlora_bitsandbytes", bnb_model)
else:
    reason = ("this is the ci profile" if PROFILE != "full" else
              "no CUDA GPU here" if DEVICE.type != "cuda" else
              "bitsandbytes is not installed (pip install 'ftcourse[qlora]')")
    print("Skipped: the bitsandbytes + PEFT run needs the full profile, a CUDA GPU and "
          f"bitsandbytes; {reason}. "
          "The from-scratch QLoRA above ran instead.")

# %% [markdown]
# ## Memory: computed and measured
#
# The table at the top, now for the model of this page, with what we can measure here: the bytes
# of the model's tensors (`storage_bytes`: parameters and buffers, each storage once) before and
# after quantisation. On a GPU we also measure the peak memory of one training step of each method
# (its weights, gradients, Adam states and activations), on a batch of `MEMORY_BATCH` sequences of
# `MAX_LENGTH` tokens.

# %%
n_lora = runs["qlora"]["trainable"]
page_table = quant.training_memory(base, n_lora, quantized_names)
measured_weights = {"full fine-tuning": quant.storage_bytes(base),
                    "LoRA": quant.storage_bytes(lora_model),
                    "QLoRA": quant.storage_bytes(qlora_model)}
measured_peak = {}
if DEVICE.type == "cuda":
    texts = [r["prompt"] + r["completion"] for r in eval_records[:MEMORY_BATCH]]
    batch = tokenizer(texts, return_tensors="pt", padding="max_length", truncation=True,
                      max_length=MAX_LENGTH)
    batch = {k: v.to(DEVICE) for k, v in batch.items()} | {"labels": batch["input_ids"].to(DEVICE)}
    for name, model in (("full fine-tuning", base.requires_grad_(True)), ("LoRA", lora_model),
                        ("QLoRA", qlora_model),
                        *((("QLoRA (bitsandbytes)", bnb_model),) if RUN_BNB else ())):
        measured_peak[name] = quant.peak_training_memory(model, batch,
                                                         autocast_dtype=PRECISION.autocast_dtype)
    print({k: f"{v / 2**20:,.0f} MiB" for k, v in measured_peak.items()})


def mib(n_bytes):
    return None if n_bytes is None else f"{n_bytes / 2**20:,.2f} MiB"


rows = [(method, mib(parts["weights"]), mib(measured_weights[method]), mib(sum(parts.values())),
         mib(measured_peak.get(method))) for method, parts in page_table.items()]
if "QLoRA (bitsandbytes)" in measured_peak:
    rows.append(("QLoRA (bitsandbytes)", None, None, None,
                 mib(measured_peak["QLoRA (bitsandbytes)"])))
Markdown(markdown_table(rows, ["method", "weights (computed)", "tensors in memory (measured)",
                               "with gradients and Adam (computed)",
                               "peak of a training step (GPU, measured)"]))

# %% [markdown]
# The computed LoRA row assumes a 16-bit base; on a CPU the base here stays in float32, which is
# what the measured column shows. The embeddings are not quantised, and in the tiny `ci` model
# they are most of the parameters, so there the saving is small; in OPT-350m and in the 7B model
# the linear layers hold most of the weights.

# %%
qlora, lora = runs["qlora"], runs["lora"]
Markdown(
    f"On the `{PROFILE}` profile ({data.source}; {hf.describe('sft')}), QLoRA trained "
    f"{qlora['trainable']:,} adapter parameters on a base whose linear layers are stored in 4 bits "
    f"and, with the first seed, moved the held-out loss from {qlora['eval_loss_before']:.2f} to "
    f"{qlora['eval_loss_after']:.2f}; LoRA with the same rank on the unquantised base went from "
    f"{lora['eval_loss_before']:.2f} to {lora['eval_loss_after']:.2f}. The 4-bit weights were bit "
    f"for bit the same after training ({weights_untouched}). Quantising the linear layers took the "
    f"model's tensors from {bytes_before:,} to {bytes_after:,} bytes. "
    + (f"Over {len(SEEDS)} seeds, on the held-out loss after training: " + str(experiment.compare(
        by_seed["qlora"], by_seed["lora"], metric="eval_loss_after", higher_is_better=False)) + "."
       if len(SEEDS) > 1 else "")
)

# %% [markdown]
# ## What we learned
#
# - **NF4** puts its 16 values at quantiles of the normal distribution (8 positive, 7 negative
#   and an exact 0), so normally distributed weights use its codes evenly; on a real weight it
#   has a smaller error than evenly spaced 4-bit levels. Our construction matches bitsandbytes'
#   constants to 2e-7.
# - **Block-wise absmax** scaling (blocks of 64) keeps an outlier's damage inside its block;
#   the price is a float32 scale per block, 0.5 bit per weight, which **double quantisation**
#   cuts to 0.127 by storing the scales in 8 bits: 4.127 bits per weight in all.
# - A **4-bit linear layer** stores packed indices and scales as buffers and dequantises its
#   weight on the fly, in the forward and again in the backward pass (otherwise autograd keeps
#   the dequantised weights and the memory saving is lost during training).
# - **QLoRA** = that frozen 4-bit base + LoRA adapters in full precision on every linear layer.
#   Only the adapters train; the 4-bit weights never change. The adapter cannot be merged into
#   the 4-bit weights without being quantised away: merge into a 16-bit copy of the base instead.
# - Memory before activations: full fine-tuning with Adam needs 16 bytes per parameter; LoRA
#   about 2 (the 16-bit frozen base) plus 16 per adapter parameter; QLoRA about 0.52 for the
#   linear layers' weights. Activations come on top, and dominate for small models and long
#   sequences (gradient checkpointing trades them for compute).

# %% tags=["hide-input"]
# Records this page's metrics; on ci, checks them against the ranges a working page reaches.
metrics = {
    "code_book/max_diff_bitsandbytes": code_book_diff if HAS_BNB else 0.0,
    "round_trip/within_bound": float(round_trip_within_bound),
    "error/nf4_block64": e_nf4, "error/int4_block64": e_int4,
    "error/nf4_whole_outlier": errors[("NF4", weight.numel())][1],
    "error/nf4_block64_outlier": errors[("NF4", 64)][1],
    "double_quant/max_scale_error": scale_error,
    "bits_per_parameter/double_quant": quant.bits_per_parameter(),
    "layer/measured_bytes": layer_measured, "layer/computed_bytes": layer_computed,
    "layer/relative_output_error": layer_rel_error,
    "layer/saved_for_backward_4bit": saved_4bit, "layer/saved_for_backward_plain": saved_plain,
    "model/bytes_before": bytes_before, "model/bytes_after": bytes_after,
    "qlora/weights_untouched": float(weights_untouched),
    **{f"parity/{k}": v for k, v in parity.items()},
}
for name, r in runs.items():
    for key in ("eval_loss_before", "eval_loss_after", "trainable"):
        metrics[f"{key}/{name}"] = r[key]
metrics.update(experiment.seed_metrics(list(by_seed.values()), "eval_loss_after"))
for method, parts in page_table.items():
    metrics[f"memory_computed/{method}"] = sum(parts.values())
    metrics[f"memory_measured_tensors/{method}"] = measured_weights[method]
for method, peak in measured_peak.items():
    metrics[f"memory_peak_gpu/{method}"] = peak
path = results.record(
    "17_qlora", metrics, data_source=f"{data.source}; model: {hf.describe('sft')}",
    seconds=timer.seconds,
    extra={"epochs": EPOCHS, "n_train": len(train_records), "lr": LR, "rank": RANK, "alpha": ALPHA,
           "bitsandbytes_run": RUN_BNB, "seeds": list(SEEDS), "computed_big_models": computed,
           "runs": runs},
)
print("recorded", path.name)
assert weights_untouched and round_trip_within_bound and layer_measured == layer_computed
if PROFILE == "ci":
    results.check(metrics, {
        "code_book/max_diff_bitsandbytes": (0.0, 1e-6),
        "error/nf4_block64": (0.0, 0.2),
        "double_quant/max_scale_error": (0.0, 0.01),
        "layer/relative_output_error": (0.0, 0.2),
        "layer/saved_for_backward_4bit": (0, 0),
        # r (in + out) on 12 layers: 2 x (4 x 8 x 128 + 8 x 192 x 2)
        "trainable/qlora": (14336, 14336),
        "trainable/lora": (14336, 14336),
        # on the pre-trained stand-in, SEED 0: QLoRA 6.31 -> 1.08, LoRA 6.30 -> 1.11 (the random
        # base with init_std 0.2 it replaces gave seed means of 5.34 and 5.12)
        "eval_loss_before/qlora": (5.0, 7.5),
        "eval_loss_after/qlora": (0.0, 2.0),
        "eval_loss_after/lora": (0.0, 2.0),
        # over seeds 0-2, mean (sd): QLoRA 1.102 (0.047), LoRA 1.098 (0.057)
        "eval_loss_after_mean/qlora": (0.0, 2.0), "eval_loss_after_mean/lora": (0.0, 2.0),
    })
    assert e_nf4 < e_int4, "NF4 must beat evenly spaced levels on normal weights"
    assert errors[("NF4", 64)][1] < errors[("NF4", weight.numel())][1], (
        "blocks must contain an outlier")
    assert bytes_after < bytes_before
    assert qlora["eval_loss_after"] < qlora["eval_loss_before"] - 2, "QLoRA must learn"
    assert abs(qlora["eval_loss_after"] - lora["eval_loss_after"]) < 0.5, (
        "QLoRA should land near LoRA")
