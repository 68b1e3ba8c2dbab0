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
from ftcourse import data, pages, plots, results
from ftcourse.adapt import count_parameters, freeze, replace_head, trainable_names, unfreeze
from ftcourse.experiment import Run, compare, run_strategy, table
from ftcourse.models import TransformerClassifier
from ftcourse.tables import markdown_table
from ftcourse.text import basic_english
from ftcourse.train import evaluate, fit, predict
from ftcourse.rehearsal import realdata

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
BATCH_SIZE = 32
LR, CLIP = 1.0, 0.1  # the source's SGD recipe
EPOCHS = ftcourse.choose(ci=8, full=100)  # the source trains for 100 epochs on a GPU
IMDB_TRAIN = ftcourse.choose(ci=300, full=None)  # labelled reviews to fine-tune on (None: all)
NEWS_REACTIONS = ftcourse.choose(ci=1.0, full=0.0)  # ci news: World/Sci-Tech told by tone alone
PATIENCE = ftcourse.choose(ci=None, full=10)  # stop a run that stopped improving
MAX_LEN = ftcourse.choose(ci=None, full=512)  # truncate very long reviews (see "Loaders")
TRAIN_SIZE, TEST_SIZE = None, None  # examples per split of each dataset (None: all of them)
timer = results.Timer()
ftcourse.set_seed(SEED)
print(f"profile={PROFILE} device={ftcourse.device()} epochs={EPOCHS} torch {torch.__version__}")

# %%
pages.banner("02_transfer_learning")

# %% [markdown]
# Where the budget differs from the source's: the source trains every run for all 100 epochs
# and keeps the epoch with the best validation accuracy; on `full`, `PATIENCE = 10` stops a run
# after 10 epochs without a better one, which saves GPU time at the risk of missing a late gain
# (the checkpoint is still chosen on validation). The source feeds whole reviews; on `full`,
# `MAX_LEN = 512` cuts the few very long ones, whose attention cost grows with the square of
# their length. On `ci`, 8 epochs on the small generated corpora keep the page under a minute.
#
# ## The data
#
# On the `full` profile these are the real datasets (downloaded, or read from
# `FTCOURSE_DATA_DIR` in their original layouts); on `ci` they are small corpora that ftcourse
# generates offline with the same structure, so the whole chapter runs in seconds.
#
# Pre-training pays when the source task teaches what the target task needs and the target has
# little labelled data. The `ci` data is built that way:
#
# - the word vectors are learnt from the generated text after `corpora.mix_evaluations` has put
#   words of praise and of criticism in the same contexts, as real text does ("a good film", "a
#   bad film"): as in GloVe, "good" and "bad" get close vectors (printed below), and polarity is
#   a small part of what sets one evaluative word apart from another;
# - in the news (`load_ag_news(reactions=NEWS_REACTIONS)`), World and Sci/Tech stories are
#   reactions that name no topic ("Critics said the move was not brilliant"): World news is bad
#   news and Sci/Tech news good news, told apart only by the evaluative words and the negations
#   that flip them, so a model pre-trained on the news has to learn which way each word points;
# - the target task is small: `IMDB_TRAIN = 300` labelled reviews, beside 3,000 news stories.

# %%
imdb = data.load_imdb().take(TRAIN_SIZE, TEST_SIZE, seed=SEED).take(IMDB_TRAIN, seed=SEED)
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
print(f"{len(glove):,} vectors of dimension {glove.dim} from {glove.path.name}; "
      f"vocabulary {len(vocab):,}")
print("indices of 'the', 'good', 'qwertyuiop' (unknown -> <unk>):",
      vocab(["the", "good", "qwertyuiop"]))
tokens = [t for _, text in imdb_train[:500] for t in basic_english(text)]
print(f"share of IMDB training tokens with a GloVe vector: {glove.coverage(tokens):.1%}")
print(f"cosine of the vectors of 'good' and 'bad': "
      f"{torch.cosine_similarity(glove['good'], glove['bad'], dim=0):.2f}")

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
#
# `make_loader` tokenises every review once. `pad_batch` right-pads a batch's index lists to
# its longest and `collate_fn` makes `(labels, tokens)` of them, the source's `collate_batch`
# without the move to the GPU (`fit` moves batches to the model's device).
# `BucketBatchSampler.batches` shuffles, sorts pools of 50 batches by length, cuts them and
# shuffles the batch order, so each batch holds reviews of similar length:

# %%
pages.show_code(data.pad_batch, data.collate_fn, data.BucketBatchSampler.batches)

# %%
train_loader = data.make_loader(imdb_train, vocab, BATCH_SIZE, shuffle=True, max_length=MAX_LEN,
                                seed=SEED)
valid_loader = data.make_loader(imdb_valid, vocab, BATCH_SIZE, max_length=MAX_LEN)
test_loader = data.make_loader(imdb.test, vocab, BATCH_SIZE, max_length=MAX_LEN)
labels, batch = next(iter(valid_loader))
print("labels", labels[:8].tolist(), " tokens", tuple(batch.shape), " padding share",
      f"{(batch == vocab.pad_index).float().mean():.1%}")

# %% [markdown]
# ## The model
#
# The source's `Net`: GloVe embeddings (frozen) scaled by $\sqrt{d}$, the positional encoding of
# chapter 1, two encoder layers with two heads and a 128-wide feed-forward block, a mean over the
# sequence, and a linear head. `stages` runs the forward pass one step at a time, so that we can
# look inside it; `forward` is its last output.

# %%
pages.show_code(TransformerClassifier)

# %%
model = TransformerClassifier(embeddings, num_classes=len(imdb.classes))
print(model)
print(count_parameters(model))
untrained_acc = evaluate(model, test_loader)
print(f"untrained test accuracy: {untrained_acc:.3f} (chance is {1 / len(imdb.classes):.2f})")

# %% [markdown]
# ### One batch, shape by shape
#
# Seed 004 draws the path of a batch of 32 reviews padded to 50 tokens: `[32, 50]` to
# `[32, 50, 100]` through the embedding, the positional encoding and the encoder, `[32, 100]`
# after the mean, `[32, 2]` out of the head. Here is the same walk, printed from the validation
# batch above as it goes through the (untrained) model, with the average length of one token's
# vector after each step:

# %%
with torch.no_grad():
    real = batch != vocab.pad_index
    walk = [(stage, tuple(out.shape),
             out[real].norm(dim=-1).mean().item() if out.dim() == 3 else None)
            for stage, out in model.stages(batch)]
Markdown(markdown_table(walk, ["stage", "shape", "mean vector norm (real tokens)"], digits=2))

# %% [markdown]
# Why multiply by $\sqrt{d}$? The positional encoding of chapter 1 adds to every token a vector
# of sines and cosines whose length is $\sqrt{d/2}$ whatever the position (5 for the 50-d
# vectors of `ci`, about 7 for GloVe's 100).
# In the original Transformer the embedding vectors are learned from a small initialisation and
# are much shorter than that, so without the factor the position would drown out the word;
# $\sqrt{d}$ brings them to the same scale. The source keeps the factor with GloVe vectors,
# which are longer to begin with: compare the norms in the rows above, before and after the
# scaling and after the encoding is added. The word vector dominates the sum, and the position
# is a small perturbation of it.

# %% [markdown]
# ### The source's `batch_first` mistake
#
# `nn.TransformerEncoderLayer` expects `[seq, batch, dim]` unless built with `batch_first=True`.
# The source feeds `[batch, seq, dim]` with the default, so attention runs *across the reviews of
# a batch* at each position, and no padding mask is passed. ftcourse's model is batch-first with a
# key padding mask and averages over real tokens only. `batch_first=False` rebuilds the source's
# version with the same weights, and we classify one review alone and inside a batch:

# %%
seed_version = TransformerClassifier(embeddings, num_classes=2, batch_first=False)
seed_version.load_state_dict(model.state_dict())
model.eval(), seed_version.eval()
review = batch[:1]
with torch.no_grad():
    for name, m in [("ftcourse", model), ("source", seed_version)]:
        alone = m(review[:, : int((review != vocab.pad_index).sum())])
        in_batch = m(batch)[:1]
        print(f"{name:8s} logits alone {alone.numpy().round(3)}  "
              f"in a batch {in_batch.numpy().round(3)}")

# %% [markdown]
# With the source's layout the prediction for a review depends on which other reviews share its
# batch and on how much padding they bring; with the fix it does not.
#
# ## Training from scratch on IMDB

# %% [markdown]
# The training loop is the source's `train_model`, with what a reusable loop needs: one step
# is zero the gradients, compute the logits, the cross-entropy loss, back-propagate, clip the
# gradient norm to 0.1, step SGD at learning rate 1 (the source's recipe, `fit`'s defaults).
# After each epoch it measures the validation accuracy and keeps the best weights, which it
# restores at the end (the source saved them to a file). Only parameters with `requires_grad`
# go to the optimiser, which is what makes freezing work below.

# %%
pages.show_code(fit)

# %% [markdown]
# Every strategy below is trained the same way, by `ftcourse.experiment.run_strategy`: count the
# parameters, seed, train with `fit`, plot the curves, test once on the test set, and keep a
# `Run` record of the figures for the comparison. It trains through `fit_cached`, `fit` that keeps
# its result: chapter 3 asks for the same AG News model and fine-tuning runs and loads them
# instead of training them again (see `ftcourse.runcache`).

# %%
runs = {}
recipe = dict(seed=SEED, epochs=EPOCHS, lr=LR, clip=CLIP, patience=PATIENCE)
ftcourse.set_seed(SEED)
scratch = TransformerClassifier(embeddings, num_classes=len(imdb.classes))
runs["scratch"] = run_strategy("scratch", scratch, train_loader, valid_loader, test_loader,
                               title="IMDB from scratch", **recipe)

# %% [markdown]
# ## Pre-training on AG News
#
# The source trained its AG News model for 100 epochs on all 120,000 articles on a GPU and
# reports **90.4%** test accuracy for it (0.9045; their figure). It then loads those weights
# from a course bucket rather than training them in the notebook. Here the pre-training runs:

# %%
ag = data.load_ag_news(reactions=NEWS_REACTIONS).take(TRAIN_SIZE, TEST_SIZE, seed=SEED)
print(ag.source)
print(f"train {len(ag.train):,}  test {len(ag.test):,}  classes {ag.classes}")
print(f"[{ag.classes[ag.train[0][0]]}] {ag.train[0][1][:200]}")
ag_train, ag_valid = data.train_valid_split(ag.train, valid_fraction=0.05, seed=SEED)
ag_loaders = [
    data.make_loader(ag_train, vocab, BATCH_SIZE, shuffle=True, max_length=MAX_LEN, seed=SEED),
    data.make_loader(ag_valid, vocab, BATCH_SIZE, max_length=MAX_LEN),
    data.make_loader(ag.test, vocab, BATCH_SIZE, max_length=MAX_LEN),
]
ftcourse.set_seed(SEED)
pretrained = TransformerClassifier(embeddings, num_classes=len(ag.classes))
runs["ag_news"] = run_strategy("ag_news", pretrained, *ag_loaders, title="AG News pre-training",
                               **recipe)

# %% [markdown]
# ## Fine-tuning on IMDB: three strategies
#
# Each strategy starts from a copy of the AG News model and swaps its 4-class head for a fresh
# 2-class one (`replace_head`). What differs is what stays frozen.
#
# Freezing is one flag per parameter: `requires_grad = False` keeps autograd from computing its
# gradient, and `fit` hands only the parameters that still require one to the optimiser. The
# source writes the loop over `model.parameters()` in each cell; ftcourse's `freeze` is that
# loop, and `unfreeze` turns the flag back on for the parameters whose names match a pattern:

# %%
pages.show_code(freeze, unfreeze)


# %%
def from_pretrained():
    ftcourse.set_seed(SEED)
    m = copy.deepcopy(pretrained)
    replace_head(m, len(imdb.classes))
    return m


full = from_pretrained()  # everything but the frozen GloVe embedding trains
imdb_loaders = train_loader, valid_loader, test_loader
runs["full_finetune"] = run_strategy("full_finetune", full, *imdb_loaders,
                                     title="full fine-tuning", **recipe)

# %%
probe = from_pretrained()
freeze(probe)
unfreeze(probe, "classifier.*")
print("trainable:", trainable_names(probe))
runs["linear_probe"] = run_strategy("linear_probe", probe, *imdb_loaders,
                                    title="linear probing (head only)",
                                    **recipe)

# %% [markdown]
# A linear probe reads features through frozen GloVe vectors *and* a frozen encoder. How much of
# its accuracy is owed to pre-training the encoder on AG News? The control: the same probe on an
# encoder that was never trained (random weights, same frozen GloVe embedding).

# %%
ftcourse.set_seed(SEED + 1)  # a different draw from the pre-trained model's initial weights
control = TransformerClassifier(embeddings, num_classes=len(imdb.classes))
freeze(control)
unfreeze(control, "classifier.*")
runs["probe_random_encoder"] = run_strategy("probe_random_encoder", control, *imdb_loaders,
                                            title="control: probe on an untrained encoder",
                                            **recipe)

# %% [markdown]
# The source's partial case unfreezes `linear2` (the second feed-forward projection) of each
# encoder layer. It also gives the new head 3 outputs for the 2-class task; ours has 2. And it
# stops there: it builds that model as `Net(num_class=4)` without loading the AG News weights
# into it, prints which parameters train, and never trains it, so the source has no result for
# partial unfreezing. Ours starts from the AG News model and trains like the others:

# %%
partial = from_pretrained()
freeze(partial)
print(unfreeze(partial, ["*.linear2.*", "classifier.*"]))
runs["partial_unfreeze"] = run_strategy("partial_unfreeze", partial, *imdb_loaders,
                                        title="linear2 + head",
                                        **recipe)

# %% [markdown]
# ## Comparison
#
# Built from the runs above.

# %%
strategies = ["scratch", "full_finetune", "linear_probe", "partial_unfreeze"]
untrained = Run("untrained", {"accuracy": untrained_acc}, n_test=len(imdb.test))
shown = [untrained] + [runs[n] for n in strategies + ["probe_random_encoder"]]
Markdown(table(shown, headers={"accuracy": "IMDB test accuracy"}))

# %%
fig = plots.plot_comparison(
    {r.name: r.accuracy for r in shown},
    title=f"IMDB test accuracy ({PROFILE} profile)",
    chance=1 / len(imdb.classes),
    annotations={r.name: f"{r.trainable:,} trained" for r in shown if r.trainable is not None},
)

# %% [markdown]
# What the runs above say, in words generated from them (so they always match the figures).
# `compare` names a winner only when the gap is larger than the noise: with one run per strategy,
# two standard errors of the difference of two accuracies measured on this test set
# ($\sqrt{p(1-p)/n}$ each); a smaller gap reads "within noise", since another seed could reverse it.

# %%
Markdown(
    f"On the `{PROFILE}` profile ({imdb.source}): "
    f"{compare(runs['full_finetune'], runs['scratch'])}; "
    f"{compare(runs['full_finetune'], runs['linear_probe'])}; "
    f"{compare(runs['partial_unfreeze'], runs['linear_probe'])}; "
    f"{compare(runs['linear_probe'], runs['probe_random_encoder'])} "
    "(the control: what the probe owes "
    "to the AG News "
    "encoder rather than to the frozen word vectors). "
    f"Linear probing trained {runs['linear_probe'].trainable:,} parameters, "
    f"{runs['linear_probe'].trainable / runs['full_finetune'].trainable:.1%} "
    "of full fine-tuning's. "
    "The source reports 86% for full fine-tuning against 83% from scratch "
    "and 64% for linear probing, "
    "after 100 epochs on all 25,000 training reviews; with fewer reviews or epochs, pre-training "
    "mostly speeds up the start, and a from-scratch model can catch up."
)

# %% [markdown]
# ### Across seeds, on the generated data
#
# One run is one draw of the initial weights and of the batch order. The same chapter, run with
# `SEED` 0 to 4 on the `ci` profile and recorded in `results/ci-seeds/`
# (`python bench/ci_seeds.py --out results/ci-seeds 02_transfer_learning`), gave these IMDB
# test accuracies:

# %%
Markdown(results.seed_table(
    "02_transfer_learning",
    {"full fine-tuning": "accuracy/full_finetune", "from scratch": "accuracy/scratch",
     "linear probing": "accuracy/linear_probe",
     "probe on an untrained encoder": "accuracy/probe_random_encoder"},
))

# %% [markdown]
# On this data the source's main result holds in four seeds of five: full fine-tuning beat
# training from scratch by 2 points on average, and lost to it by 1 point in the other seed. The
# linear probe stays below full fine-tuning in every seed, and below training from scratch in
# three of five: with 300 labelled reviews, a head on frozen pre-trained features comes close to
# a whole model trained on them. The last row is what the probe owes to pre-training: on an
# encoder that never saw the news it scores 13 points lower on average: pre-training on the
# news taught the encoder features that reviews need (which evaluative words point which way),
# beyond what the frozen word vectors give (see "The data"). The source's gain (86% against
# 83%) comes from 100 epochs on 25,000 real reviews, the setting of the `full` profile; on `ci`
# the gain is smaller, and one seed of five reverses it.

# %% [markdown]
# ## Using the fine-tuned model
#
# Every test accuracy above came from `evaluate`: the share of correct predictions over a
# loader, which `predictions` makes in evaluation mode (dropout off) and without gradients
# (`ftcourse/train.py`, beside `fit`). The source's `predict` turns
# one raw text into a label; ftcourse's takes several, encodes them exactly as in training
# (same tokenizer, vocabulary and truncation) and refuses a text with no tokens:

# %%
pages.show_code(evaluate, predict)

# %%
reviews = ["An absolute delight: moving, funny and beautifully acted.",
           "Dull, predictable and far too long. I want my evening back."]
for review, label in zip(reviews, predict(full, reviews, vocab, imdb.classes, max_length=MAX_LEN)):
    print(f"{label:16s} <- {review}")

# %% [markdown]
# ## What we learned
#
# - A pre-trained network is a starting point: copy it, replace the head to fit the new labels
#   (`replace_head`), and choose what trains by setting `requires_grad` (`freeze`, `unfreeze`).
# - Full fine-tuning adapts everything; a linear probe trains a few hundred parameters and can only
#   be as good as the frozen features; partial unfreezing sits in between. The control on an
#   untrained encoder tells how much a probe owes to pre-training.
# - Each stage of the model has a shape to check: `[batch, seq]` ids, `[batch, seq, d]` vectors
#   through embedding, positional encoding and encoder, `[batch, d]`
#   after the mean, `[batch, classes]`.
# - Padding needs care twice: a mask so attention skips it, and a mean over real tokens only;
#   and `batch_first` must match the tensors, or attention mixes the reviews of a batch.
# - A gap between two strategies means something only when it is larger than the test set's
#   noise; `compare` says so in words.

# %% tags=["hide-input"]
path = results.record(
    "02_transfer_learning", runs=[runs[n] for n in strategies],
    controls=[untrained, runs["ag_news"], runs["probe_random_encoder"]],
    data_source=f"IMDB: {imdb.source}; AG News: {ag.source}; GloVe: {glove.path.name}",
    seconds=timer.seconds, extra={"epochs": EPOCHS, "max_len": MAX_LEN},
)
metrics = results.load("02_transfer_learning")["metrics"]
print(f"recorded {len(metrics)} metrics in {path.name}")
if PROFILE == "ci":
    # Untrained near chance; every trained model well above it. Over SEED 0-4 (bench/ci_seeds.py):
    # scratch 0.702-0.762, full fine-tuning 0.712-0.788, AG News 0.834-0.865, linear probing
    # 0.665-0.743, partial 0.689-0.754, probe on an untrained encoder 0.518-0.657.
    results.check(metrics, {
        "accuracy/untrained": (0.4, 0.6),
        "accuracy/scratch": (0.65, 1.0),
        "accuracy/full_finetune": (0.66, 1.0),
        "accuracy/ag_news": (0.78, 1.0),
        "accuracy/linear_probe": (0.6, 1.0),
        "accuracy/partial_unfreeze": (0.63, 1.0),
        "accuracy/probe_random_encoder": (0.45, 1.0),
    })

# %% [markdown]
# ## Beside a run on real data
#
# The numbers on this page come from the profile it was built on. The same chapter was also run
# on the real text samples on a CPU, with the sizes and model named below (the book's results
# page has every recorded run):

# %%
Markdown(realdata.chapter_markdown("02_transfer_learning", metrics, PROFILE))
