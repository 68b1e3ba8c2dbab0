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
# # 2. Transfer learning with a Transformer encoder
#
# We build a small Transformer text classifier on frozen GloVe word vectors, **pre-train** it on
# news topics (AG News: World, Sports, Business, Sci/Tech) and **fine-tune** it for movie-review
# sentiment (IMDB), comparing how much of the pre-trained network to adapt:
#
# | strategy | what trains on IMDB |
# |---|---|
# | from scratch | everything (no pre-training) |
# | full fine-tuning | everything, starting from the AG News weights |
# | linear probing | only a new classification head |
# | partial unfreezing | the head and `linear2` of each encoder layer |
#
# The source notebook reports these IMDB test accuracies, from 100-epoch runs on the full
# 25,000 training reviews on a GPU (their figures, not ours): from scratch ~83%, full
# fine-tuning ~86%, linear probing ~64%. Our own figures are computed below, on the data of the
# active profile, and recorded; the [results page](../book/results.md) lists the recorded runs.

# %% tags=["remove-cell"]
# Installs the companion package when this notebook runs in Colab.
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse @ git+https://github.com/ftcourse/ftcourse@main"
    # !python -m ftcourse doctor
    pass

# %%
import copy

import torch
from IPython.display import Markdown

import ftcourse
from ftcourse import data, plots, results
from ftcourse.adapt import count_parameters, freeze, replace_head, unfreeze
from ftcourse.models import TransformerClassifier
from ftcourse.text import basic_english
from ftcourse.runcache import fit_cached
from ftcourse.train import evaluate, predict
from ftcourse.rehearsal import realdata

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
BATCH_SIZE = 32
LR, CLIP = 1.0, 0.1  # the source's SGD recipe
EPOCHS = ftcourse.choose(ci=4, full=100)  # the source trains for 100 epochs on a GPU
PATIENCE = ftcourse.choose(ci=None, full=10)  # stop a run that stopped improving
MAX_LEN = ftcourse.choose(ci=None, full=512)  # truncate very long reviews (see "Loaders")
TRAIN_SIZE, TEST_SIZE = None, None  # examples per split of each dataset (None: all of them)
timer = results.Timer()
ftcourse.set_seed(SEED)
print(f"profile={PROFILE} device={ftcourse.device()} epochs={EPOCHS} torch {torch.__version__}")

# %% [markdown]
# ## The data
#
# On the `full` profile these are the real datasets (downloaded, or read from
# `FTCOURSE_DATA_DIR` in their original layouts); on `ci` they are small corpora that ftcourse
# generates offline with the same structure, so the whole chapter runs in seconds.

# %%
imdb = data.load_imdb().take(TRAIN_SIZE, TEST_SIZE, seed=SEED)
print(imdb.source)
print(f"train {len(imdb.train):,}  test {len(imdb.test):,}  classes {imdb.classes}")
for label, text in imdb.train[:1] + imdb.train[-1:]:
    print(f"[{imdb.classes[label]}] {text[:300]}")

# %% [markdown]
# The source splits the training set 95/5 into train and validation. Checkpoints are chosen on
# the validation split; the test set is used once per model, at the end.

# %%
imdb_train, imdb_valid = data.train_valid_split(imdb.train, valid_fraction=0.05, seed=SEED)
print(f"train {len(imdb_train):,}  valid {len(imdb_valid):,}  test {len(imdb.test):,}")

# %% [markdown]
# ## Tokens, vocabulary and GloVe vectors
#
# The source uses torchtext's `basic_english` tokenizer and builds its vocabulary from GloVe's
# word list. torchtext no longer loads with current PyTorch, so ftcourse re-implements both with
# the same rules and indices (`ftcourse.text`).

# %%
print(basic_english('This movie wasn\'t "great"... it was <br /><br />AMAZING!'))

glove = data.glove()
vocab = glove.vocab(specials=("<unk>", "<pad>"))
print(f"{len(glove):,} vectors of dimension {glove.dim} from {glove.path.name}; vocabulary {len(vocab):,}")
print("indices of 'the', 'good', 'qwertyuiop' (unknown -> <unk>):", vocab(["the", "good", "qwertyuiop"]))
tokens = [t for _, text in imdb_train[:500] for t in basic_english(text)]
print(f"share of IMDB training tokens with a GloVe vector: {glove.coverage(tokens):.1%}")

# %% [markdown]
# The vocabulary puts `<unk>` at 0 and `<pad>` at 1, so GloVe's word *i* sits at index *i+2*.
# The source then builds its embedding layer straight from `glove.vectors`, which shifts every
# lookup by two rows (index 2, "the", reads the vector of GloVe's third word). We build the
# embedding matrix row by row from the vocabulary instead, with zeros for the two specials:

# %%
embeddings = glove.embedding_matrix(vocab)
the = vocab["the"]
print("row of 'the' equals GloVe's 'the':", torch.equal(embeddings[the], glove["the"]))
print("the source's row for 'the' is GloVe's", repr(glove.itos[the]))

# %% [markdown]
# ## Loaders
#
# The collate function turns texts into padded index tensors. Two changes from the source cut
# the time of an epoch (`bench/transformer_recipe.py` measures both recipes side by side on real
# reviews): batches are drawn from **buckets of similar length**, so little padding is computed,
# and on `full` reviews are **truncated** to `MAX_LEN` tokens. The padding index is `<pad>`; the
# source padded with 0, which is `<unk>`.

# %%
train_loader = data.make_loader(imdb_train, vocab, BATCH_SIZE, shuffle=True, max_len=MAX_LEN, seed=SEED)
valid_loader = data.make_loader(imdb_valid, vocab, BATCH_SIZE, max_len=MAX_LEN)
test_loader = data.make_loader(imdb.test, vocab, BATCH_SIZE, max_len=MAX_LEN)
labels, batch = next(iter(valid_loader))
print("labels", labels[:8].tolist(), " tokens", tuple(batch.shape), " padding share", f"{(batch == vocab.pad_index).float().mean():.1%}")

# %% [markdown]
# ## The model
#
# The source's `Net`: GloVe embeddings (frozen) scaled by $\sqrt{d}$, the positional encoding of
# chapter 1, two encoder layers with two heads and a 128-wide feed-forward block, a mean over the
# sequence, and a linear head.

# %%
model = TransformerClassifier(embeddings, num_class=len(imdb.classes))
print(model)
print(count_parameters(model))
untrained_acc = evaluate(model, test_loader)
print(f"untrained test accuracy: {untrained_acc:.3f} (chance is {1 / len(imdb.classes):.2f})")

# %% [markdown]
# ### The source's `batch_first` mistake
#
# `nn.TransformerEncoderLayer` expects `[seq, batch, dim]` unless built with `batch_first=True`.
# The source feeds `[batch, seq, dim]` with the default, so attention runs *across the reviews of
# a batch* at each position, and no padding mask is passed. ftcourse's model is batch-first with a
# key padding mask and averages over real tokens only. `batch_first=False` rebuilds the source's
# version with the same weights, and we classify one review alone and inside a batch:

# %%
seed_version = TransformerClassifier(embeddings, num_class=2, batch_first=False)
seed_version.load_state_dict(model.state_dict())
model.eval(), seed_version.eval()
review = batch[:1]
with torch.no_grad():
    for name, m in [("ftcourse", model), ("source", seed_version)]:
        alone = m(review[:, : int((review != vocab.pad_index).sum())])
        in_batch = m(batch)[:1]
        print(f"{name:8s} logits alone {alone.numpy().round(3)}  in a batch {in_batch.numpy().round(3)}")

# %% [markdown]
# With the source's layout the prediction for a review depends on which other reviews share its
# batch and on how much padding they bring; with the fix it does not.
#
# ## Training from scratch on IMDB

# %%
runs = {}


def run(name, model, train_loader, valid_loader, test_loader, title):
    """Train, plot, test once, and keep the figures for the comparison."""
    counts = count_parameters(model)
    print(f"{name}: {counts}")
    ftcourse.set_seed(SEED)
    # `fit_cached` is `fit` that keeps its result: chapter 3 asks for the same AG News model and
    # fine-tuning runs and loads them instead of training them again (see ftcourse.runcache).
    history = fit_cached(model, train_loader, valid_loader, epochs=EPOCHS, lr=LR, clip=CLIP, patience=PATIENCE,
                         desc=name)
    plots.plot_history(history, title=title)
    acc = evaluate(model, test_loader)
    runs[name] = {"accuracy": acc, "trainable": counts.trainable, "total": counts.total,
                  "best_epoch": history.best_epoch, "seconds": history.seconds}
    reused = " (reused: an identical run was trained before)" if history.reused else ""
    print(f"{name}: best validation epoch {history.best_epoch}, test accuracy {acc:.3f}{reused}")
    return history


ftcourse.set_seed(SEED)
scratch = TransformerClassifier(embeddings, num_class=len(imdb.classes))
_ = run("scratch", scratch, train_loader, valid_loader, test_loader, "IMDB from scratch")

# %% [markdown]
# ## Pre-training on AG News

# %%
ag = data.load_ag_news().take(TRAIN_SIZE, TEST_SIZE, seed=SEED)
print(ag.source)
print(f"train {len(ag.train):,}  test {len(ag.test):,}  classes {ag.classes}")
print(f"[{ag.classes[ag.train[0][0]]}] {ag.train[0][1][:200]}")
ag_train, ag_valid = data.train_valid_split(ag.train, valid_fraction=0.05, seed=SEED)
ag_loaders = [
    data.make_loader(ag_train, vocab, BATCH_SIZE, shuffle=True, max_len=MAX_LEN, seed=SEED),
    data.make_loader(ag_valid, vocab, BATCH_SIZE, max_len=MAX_LEN),
    data.make_loader(ag.test, vocab, BATCH_SIZE, max_len=MAX_LEN),
]
ftcourse.set_seed(SEED)
pretrained = TransformerClassifier(embeddings, num_class=len(ag.classes))
_ = run("ag_news", pretrained, *ag_loaders, "AG News pre-training")

# %% [markdown]
# ## Fine-tuning on IMDB: three strategies
#
# Each strategy starts from a copy of the AG News model and swaps its 4-class head for a fresh
# 2-class one (`replace_head`). What differs is what stays frozen.

# %%
def from_pretrained():
    ftcourse.set_seed(SEED)
    m = copy.deepcopy(pretrained)
    replace_head(m, len(imdb.classes))
    return m


full = from_pretrained()  # everything but the frozen GloVe embedding trains
_ = run("full_finetune", full, train_loader, valid_loader, test_loader, "full fine-tuning")

# %%
probe = from_pretrained()
freeze(probe)
unfreeze(probe, "classifier.*")
_ = run("linear_probe", probe, train_loader, valid_loader, test_loader, "linear probing (head only)")

# %% [markdown]
# A linear probe reads features through frozen GloVe vectors *and* a frozen encoder. How much of
# its accuracy is owed to pre-training the encoder on AG News? The control: the same probe on an
# encoder that was never trained (random weights, same frozen GloVe embedding).

# %%
ftcourse.set_seed(SEED + 1)  # a different draw from the pre-trained model's initial weights
control = TransformerClassifier(embeddings, num_class=len(imdb.classes))
freeze(control)
unfreeze(control, "classifier.*")
_ = run("probe_random_encoder", control, train_loader, valid_loader, test_loader, "control: probe on an untrained encoder")

# %% [markdown]
# The source's partial case unfreezes `linear2` (the second feed-forward projection) of each
# encoder layer. It also gives the new head 3 outputs for the 2-class task; ours has 2.

# %%
partial = from_pretrained()
freeze(partial)
print(unfreeze(partial, ["*.linear2.*", "classifier.*"]))
_ = run("partial_unfreeze", partial, train_loader, valid_loader, test_loader, "linear2 + head")

# %% [markdown]
# ## Comparison
#
# Built from the runs above.

# %%
strategies = ["scratch", "full_finetune", "linear_probe", "partial_unfreeze"]
rows = ["| strategy | IMDB test accuracy | trainable / total parameters | best epoch | training seconds |", "|---|---|---|---|---|"]
rows.append(f"| untrained | {untrained_acc:.3f} | - | - | - |")
for name in strategies + ["probe_random_encoder"]:
    r = runs[name]
    rows.append(f"| {name} | {r['accuracy']:.3f} | {r['trainable']:,} / {r['total']:,} | {r['best_epoch']} | {r['seconds']:.1f} |")
Markdown("\n".join(rows))

# %%
fig = plots.plot_comparison(
    {"untrained": untrained_acc, **{n: runs[n]["accuracy"] for n in strategies + ["probe_random_encoder"]}},
    title=f"IMDB test accuracy ({PROFILE} profile)",
    chance=1 / len(imdb.classes),
    annotations={n: f"{runs[n]['trainable']:,} trained" for n in strategies + ["probe_random_encoder"]},
)

# %% [markdown]
# What the runs above say, in words generated from them (so they always match the figures):

# %%
def verdict(a, b):
    diff = runs[a]["accuracy"] - runs[b]["accuracy"]
    return f"**{a}** {'beat' if diff > 0 else 'trailed'} **{b}** by {abs(diff):.1%}"


Markdown(
    f"On the `{PROFILE}` profile ({imdb.source}): {verdict('full_finetune', 'scratch')}; "
    f"{verdict('full_finetune', 'linear_probe')}; {verdict('partial_unfreeze', 'linear_probe')}; "
    f"{verdict('linear_probe', 'probe_random_encoder')} (the control: what the probe owes to the AG News "
    "encoder rather than to the frozen word vectors). "
    f"Linear probing trained {runs['linear_probe']['trainable']:,} parameters, "
    f"{runs['linear_probe']['trainable'] / runs['full_finetune']['trainable']:.1%} of full fine-tuning's. "
    "The source reports 86% for full fine-tuning against 83% from scratch and 64% for linear probing, "
    "after 100 epochs on all 25,000 training reviews; with fewer reviews or epochs, pre-training "
    "mostly speeds up the start, and a from-scratch model can catch up."
)

# %% [markdown]
# ### Across seeds, on the generated data
#
# One run is one draw of the initial weights and of the batch order. The same chapter run with
# `SEED` 0 to 4 on the `ci` profile (`python bench/ci_seeds.py 02_transfer_learning`) gave these
# IMDB test accuracies:
#
# | strategy | seed 0 | seed 1 | seed 2 | seed 3 | seed 4 | mean |
# |---|---|---|---|---|---|---|
# | full fine-tuning | 0.750 | 0.758 | 0.773 | 0.842 | 0.835 | 0.792 |
# | from scratch | 0.839 | 0.797 | 0.785 | 0.841 | 0.835 | 0.819 |
# | linear probing | 0.777 | 0.735 | 0.777 | 0.762 | 0.752 | 0.761 |
# | probe on an untrained encoder | 0.734 | 0.749 | 0.746 | 0.752 | 0.696 | 0.735 |
#
# On this data the source's main result does not hold: full fine-tuning beat training from
# scratch in one seed of five, and full fine-tuning moved by 9 points from seed to seed, more
# than the gap between any two strategies' means. What does hold is that the linear probe stays below
# training from scratch, in every seed. The last row says why pre-training adds little here: a
# probe on an encoder that never saw the news scores within a few points of the probe on the
# pre-trained one, so learning news topics taught the encoder little that reviews need beyond
# what the frozen word vectors already hold (on `ci` they are learnt from the same generated
# text, and already set positive words apart from negative ones). We tried to generate data on
# which transfer pays (a few hundred labelled reviews; news whose label leans on the tone of
# its evaluative words; negated evaluations in the news) and full fine-tuning still did not
# beat training from scratch reliably. Read the `ci` figures as a check that the code runs and
# learns; the source's three-point gain comes from 100 epochs on 25,000 real reviews, the
# setting of the `full` profile.

# %% [markdown]
# ## Using the fine-tuned model

# %%
for text in ["An absolute delight: moving, funny and beautifully acted.",
             "Dull, predictable and far too long. I want my evening back."]:
    print(f"{predict(full, text, vocab, imdb.classes, max_len=MAX_LEN):16s} <- {text}")

# %% [markdown]
# ## Record the results

# %%
metrics = {"accuracy/untrained": untrained_acc, "accuracy/ag_news": runs["ag_news"]["accuracy"]}
metrics["accuracy/probe_random_encoder"] = runs["probe_random_encoder"]["accuracy"]
for name in strategies:
    metrics[f"accuracy/{name}"] = runs[name]["accuracy"]
    metrics[f"trainable_params/{name}"] = runs[name]["trainable"]
path = results.record(
    "02_transfer_learning", metrics, data_source=f"IMDB: {imdb.source}; AG News: {ag.source}; GloVe: {glove.path.name}",
    seconds=timer.seconds, extra={"runs": runs, "epochs": EPOCHS, "max_len": MAX_LEN},
)
print(path.name, metrics)
if PROFILE == "ci":
    # Untrained near chance; every trained model well above it. Over SEED 0-4 (bench/ci_seeds.py):
    # scratch 0.785-0.841, full fine-tuning 0.750-0.842, AG News 0.900-0.927, linear probing
    # 0.735-0.777, partial 0.760-0.781, probe on an untrained encoder 0.696-0.752.
    results.check(metrics, {
        "accuracy/untrained": (0.4, 0.6),
        "accuracy/scratch": (0.73, 1.0),
        "accuracy/full_finetune": (0.7, 1.0),
        "accuracy/ag_news": (0.85, 1.0),
        "accuracy/linear_probe": (0.68, 1.0),
        "accuracy/partial_unfreeze": (0.7, 1.0),
        "accuracy/probe_random_encoder": (0.62, 1.0),
    })

# %% [markdown]
# ## Beside a run on real data
#
# The numbers on this page come from the profile it was built on. The same chapter was also run
# on the real text samples on a CPU, with the sizes and model named below (the book's results
# page has every recorded run):

# %%
Markdown(realdata.chapter_markdown("02_transfer_learning", metrics, PROFILE))
