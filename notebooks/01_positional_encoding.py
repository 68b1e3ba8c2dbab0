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
# # 1. Positional encoding
#
# A Transformer's self-attention treats its input as a *set*: shuffle the tokens and every
# token's output is shuffled the same way, nothing else changes. Word order has to be added to
# the input. The models of this course do it the way the original Transformer did, with a fixed
# **sinusoidal positional encoding** added to the word vectors:
#
# $$
# PE_{(pos,\,2i)} = \sin\!\left(\frac{pos}{10000^{2i/d}}\right), \qquad
# PE_{(pos,\,2i+1)} = \cos\!\left(\frac{pos}{10000^{2i/d}}\right)
# $$
#
# where $pos$ is the position in the sequence, $d$ the embedding size and $i$ indexes the
# frequency pairs. Each pair of columns is a sine/cosine wave; the wavelengths grow
# geometrically from $2\pi$ to $10000 \cdot 2\pi$.

# %% tags=["remove-cell"]
# Installs the companion package when this notebook runs in Colab.
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse @ git+https://github.com/ftcourse/ftcourse@main"
    # !python -m ftcourse doctor
    pass

# %%
import numpy as np
import torch

import ftcourse
from ftcourse import pages, plots, results
from ftcourse.models import PositionalEncoding, sinusoidal_encoding

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
D_MODEL = 100  # the size of the GloVe vectors the seeds use
# the source's table holds 5,000 positions; 200 on ci are enough for every check below
MAX_LEN = ftcourse.choose(ci=200, full=5000)
timer = results.Timer()
ftcourse.set_seed(0)
print(f"profile={PROFILE}  d_model={D_MODEL}  max_len={MAX_LEN}  torch {torch.__version__}")

# %%
pages.banner("01_positional_encoding")

# %% [markdown]
# ## The encoding, as ftcourse computes it
#
# This is the function the models of the course use (shown from the package, so there is one copy):

# %%
pages.show_code(sinusoidal_encoding)

# %% [markdown]
# `div_term` is $1/10000^{2i/d}$ computed as $\exp(-2i \ln(10000)/d)$, which avoids raising a
# large number to a fractional power. Let us build the matrix and look at it.

# %%
pe = sinusoidal_encoding(MAX_LEN, D_MODEL)
print(pe.shape, f"min={pe.min():.3f} max={pe.max():.3f}")
fig = plots.plot_positional_encoding(pe, dims=(0, 1, 10, 11, 40, 41), max_positions=100)

# %% [markdown]
# Low dimensions (left of the heat map) oscillate fast, high dimensions slowly: together they
# give every position a distinct pattern, like the digits of a clock with many hands.
#
# ## Check it against the formula
#
# A direct, loop-by-loop evaluation of the formula in NumPy must give the same matrix.

# %%
reference = np.zeros((MAX_LEN, D_MODEL))
for pos in range(MAX_LEN):
    for i in range(0, D_MODEL, 2):
        angle = pos / 10000 ** (i / D_MODEL)
        reference[pos, i] = np.sin(angle)
        if i + 1 < D_MODEL:
            reference[pos, i + 1] = np.cos(angle)
max_abs_error = float(np.abs(pe.numpy() - reference).max())
print(f"largest difference from the formula: {max_abs_error:.2e}")

# %% [markdown]
# ## Why sinusoids: relative positions are linear maps
#
# For a fixed offset $k$, each (sin, cos) pair at position $pos+k$ is a rotation of the pair at
# $pos$ by the angle $k \cdot 10000^{-2i/d}$. So one matrix $M_k$ maps $PE_{pos}$ to $PE_{pos+k}$
# for *every* position, which makes "attend to the word $k$ places back" easy to learn.
# We fit $M_k$ by least squares on all positions and look at the residual.

# %%
k = 5
source, target = pe[:-k].double(), pe[k:].double()
solution = torch.linalg.lstsq(source, target).solution
rotation_residual = float((source @ solution - target).abs().max())
print(f"offset {k}: largest residual of PE[pos+{k}] = PE[pos] @ M = {rotation_residual:.2e}")

# %% [markdown]
# The encodings of nearby positions are also more alike than those of distant ones: the dot
# product between position 0 and later positions falls off with distance.

# %%
similarity = (pe[:100] @ pe[0]).numpy()
print("PE[0]·PE[p] for p = 0, 1, 2, 5, 10, 50:", np.round(similarity[[0, 1, 2, 5, 10, 50]], 1))

# %% [markdown]
# ## The layer
#
# `PositionalEncoding` stores the matrix as a *buffer* (it moves with the model to the GPU, but
# is never trained) and adds its first `seq_len` rows to a batch of embeddings shaped
# `[batch, seq_len, d_model]`, followed by dropout.

# %%
pages.show_code(PositionalEncoding)

# %%
layer = PositionalEncoding(D_MODEL, max_len=MAX_LEN, dropout=0.0)
embeddings = torch.zeros(2, 7, D_MODEL)
out = layer(embeddings)
print(out.shape, "equals PE rows 0-6:", torch.equal(out[0], pe[:7]) and torch.equal(out[1], pe[:7]))
print("trainable parameters:", sum(p.numel() for p in layer.parameters()))

# %% [markdown]
# ## A bug in the source notebook: odd dimensions
#
# The source notebook fills the cosine columns with `pe[:, 1::2] = torch.cos(position * div_term)`.
# With an odd $d$ (GloVe Twitter's 25, say) there are $\lceil d/2 \rceil$ frequencies but only
# $\lfloor d/2 \rfloor$ cosine columns, and that line fails:

# %%
d_odd = 25
position = torch.arange(10, dtype=torch.float32).unsqueeze(1)
div_term = torch.exp(torch.arange(0, d_odd, 2).float() * (-np.log(10000.0) / d_odd))
seed_pe = torch.zeros(10, d_odd)
seed_pe[:, 0::2] = torch.sin(position * div_term)
try:
    seed_pe[:, 1::2] = torch.cos(position * div_term)
except RuntimeError as error:
    print("the source's version fails:", str(error).splitlines()[0])
print("ftcourse's version:", tuple(sinusoidal_encoding(10, d_odd).shape))

# %% [markdown]
# ## What we learned
#
# - Self-attention ignores order; a fixed sinusoidal encoding added to the word vectors gives
#   every position its own pattern of sines and cosines, slow and fast.
# - ftcourse's `sinusoidal_encoding` matches the formula evaluated term by term to float32
#   rounding.
# - For any offset $k$ one linear map takes the encoding of $pos$ to that of $pos+k$: relative
#   positions are easy for attention to use.
# - `PositionalEncoding` keeps the table as a buffer: it moves with the model and trains nothing.
# - The source's version breaks on an odd embedding size; ours handles it.

# %% tags=["hide-input"]
metrics = {"max_abs_error": max_abs_error, "rotation_residual": rotation_residual}
path = results.record(
    "01_positional_encoding", metrics, data_source="none (computed)", seconds=timer.seconds
)
print(metrics, "->", path.name)
if PROFILE == "ci":
    # float32 sin/cos of angles up to MAX_LEN carry ~1e-5 rounding; a wrong formula is off by O(1).
    results.check(metrics, {"max_abs_error": (0.0, 1e-4), "rotation_residual": (0.0, 1e-4)})
