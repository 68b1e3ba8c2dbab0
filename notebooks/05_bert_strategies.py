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
# # 5. BERT: anatomy and four fine-tuning strategies
#
# BERT-base has 110 million parameters. Fine-tuning all of them for every task is the simplest
# recipe, but far from the only one. This chapter first takes BERT apart (what its parameters
# are, what `[CLS]`, `[SEP]` and the pooler do), then fine-tunes a pre-trained encoder for
# movie-review sentiment in four ways:
#
# | strategy | what trains |
# |---|---|
# | full fine-tuning | every parameter of the encoder, and a new classification head |
# | head only | only the new head; the encoder is a frozen feature extractor |
# | adapters | small bottleneck modules after each attention and feed-forward block, and the head |
# | LoRA | low-rank updates of the attention's query and value projections, and the head |
#
# Adapters are due to Houlsby et al. (2019), LoRA to Hu et al. (2021); chapters 3 and 4 built
# both from scratch on smaller models.
#
# Two source notebooks are reproduced here: one builds the four strategies on
# `bert-base-uncased` and counts their trainable parameters (it trains none of them), the other
# dissects BERT's parameters, special tokens and pooler. Their figures are quoted below as
# theirs; ours are computed in this page.

# %% tags=["remove-cell"]
# Installs the companion package when this notebook runs in Colab.
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse[hf] @ git+https://github.com/ftcourse/ftcourse@main"
    # !python -m ftcourse doctor
    pass

# %%
import matplotlib.pyplot as plt
import torch
import ftcourse  # first: it quiets notices that importing transformers prints (ftcourse._quiet)
import transformers
from IPython.display import Markdown

from ftcourse import bert, catalog, data, hf, hub, pages, plots, results
from ftcourse.adapt import add_bert_adapters, apply_lora, bert_adapter_targets, count_parameters
from ftcourse.adapt.inject import replace_module, select_linears
from ftcourse.experiment import compare, run_strategy, table
from ftcourse.tables import markdown_table
from ftcourse.train import predict
from ftcourse.rehearsal import realdata

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
ROLE = ftcourse.choose(ci="minilm", full="bert_uncased")  # the pre-trained encoder
NUM_LAYERS = ftcourse.choose(ci=2, full=None)  # keep only the first N layers (None: all)
POOLING = ftcourse.choose(ci="mean", full="cls")  # what the head reads (see "Which vector")
MAX_LEN = ftcourse.choose(ci=64, full=256)  # word pieces per review, [CLS] and [SEP] included
# full: 8,000 of the 23,750 training reviews, so that four BERT-base runs fit a free T4 session
# (see the budget below); `--set TRAIN_SIZE=None` trains on all of them, as the source does.
TRAIN_SIZE = ftcourse.choose(ci=192, full=8000)  # training reviews (None: all)
VALID_SIZE = ftcourse.choose(ci=64, full=None)
TEST_SIZE = ftcourse.choose(ci=200, full=None)
BATCH_SIZE = ftcourse.choose(ci=16, full=32)
EPOCHS = ftcourse.choose(ci=2, full=2)
LR = {  # AdamW learning rates: small for pre-trained weights, larger for new modules
    "full": ftcourse.choose(ci=1e-4, full=2e-5),
    "head_only": ftcourse.choose(ci=3e-3, full=1e-3),
    "adapters": ftcourse.choose(ci=1e-3, full=5e-4),
    "lora": ftcourse.choose(ci=1e-3, full=5e-4),
}
CLIP = 1.0
BOTTLENECK, RANK, ALPHA = 64, 8, 32  # the source's adapter size and LoRA settings
ANATOMY_DEVICE = ftcourse.choose(ci="meta", full="cpu")  # where BERT-base is built for counting
timer = results.Timer()
ftcourse.set_seed(SEED)
print(f"profile={PROFILE} device={ftcourse.device()} torch {torch.__version__} "
      f"transformers {transformers.__version__}")

# %%
pages.banner("05_bert_strategies", ROLE)

# %% [markdown]
# The source builds its four models but trains none of them, so the training budgets below
# have no counterpart there; Part 2 explains the recipe, and the parameters cell why `full`
# trains on 8,000 of the reviews.
#
# What the `full` run of this chapter costs, from the measured step (the `ci` run on this page
# takes seconds):

# %%
Markdown(catalog.budget_markdown("05"))

# %% [markdown]
# ## Part 1: anatomy of BERT-base
#
# Counting parameters needs the architecture, not the pre-trained numbers: `BertConfig()` *is*
# bert-base-uncased's configuration (12 layers, hidden size 768, 12 heads, a 30,522-word
# vocabulary), so `BertModel(BertConfig())` has exactly its parameters, with random values and
# no download. On the `ci` profile we build it on PyTorch's `meta` device, which records shapes
# and allocates nothing (building it for real takes seconds and 440 MB); on `full` it is built
# with real random weights. The counts are the same either way.

# %%
with torch.device(ANATOMY_DEVICE):
    bert_base = transformers.BertModel(transformers.BertConfig())
named = list(bert_base.named_parameters())
print(f"BERT-base has {len(named)} named parameter tensors (built on {ANATOMY_DEVICE!r})\n")
for title, rows in [("Embeddings", named[:5]), ("First encoder layer", named[5:21]),
                    ("Pooler", named[-2:])]:
    print(title)
    for name, p in rows:
        print(f"  {name:52s} {tuple(p.shape)!s:>12}")

# %% [markdown]
# The embeddings hold a 768-dimensional vector for each of the 30,522 word pieces, for each of
# 512 positions and for the two segment types (sentence A or B). Each of the 12 layers has the
# attention's query, key and value projections, its output projection (`attention.output.dense`),
# the feed-forward block (`intermediate.dense`, 768 -> 3,072, and `output.dense`, back to 768)
# and two LayerNorms. The pooler is one more 768 x 768 layer, described below.

# %%
matrices = sum(p.numel() for _, p in named if p.dim() == 2)
vectors = sum(p.numel() for _, p in named if p.dim() == 1)
total = count_parameters(bert_base).total
print(f"in 2-D tensors (weight matrices and embeddings): {matrices:,}")
print(f"in 1-D tensors (biases and LayerNorm scales/shifts): {vectors:,}")
print(f"total: {total:,}")

# %% [markdown]
# Seed 003 reports "199 different named parameters" and "Total Parameters: 109,360,128", summing
# `shape[0] * shape[1]` over the tensors with two dimensions. That is the count of the 2-D
# tensors only; the biases and LayerNorm parameters are left out, and the model's real total is
# the last line above.
#
# ### The four strategies, counted on BERT-base
#
# The source's `ClassificationModel` puts dropout and a `Linear(768, 2)` on the final hidden state
# of the `[CLS]` token; ftcourse's `EncoderClassifier` is that class.
# `ftcourse.bert.build_classifier` sets one up for each strategy and counts the parameters at
# each step:

# %%
pages.show_code(bert.build_classifier)

# %% [markdown]
# Two calls do the surgery. **Adapters**: `bert_adapter_targets` walks `named_modules()` and
# finds, in every layer, the output projection of the attention block (`attention.output.dense`)
# and of the feed-forward block (`output.dense`); `add_bert_adapters` wraps each of them in
# chapter 3's `AdaptedLinear`, so the adapter acts on the block's output before BERT adds the
# residual and applies its LayerNorm, then freezes all but the adapters and the head:

# %%
pages.show_code(bert_adapter_targets, add_bert_adapters)

# %% [markdown]
# **LoRA**: seed 000's `get_lora_model` loops over `named_modules()`, finds the layers named
# `query` and `value`, and sets a `LoRALinear` in their place with `setattr` on the parent
# module. `apply_lora` does the same in three steps: `select_linears` is the walk (a target
# matches a name exactly, as a suffix or as a glob, and a target that matches nothing raises),
# `replace_module` is the `setattr` on the parent, and chapter 4's `LinearWithLoRA` is the wrapper:

# %%
pages.show_code(apply_lora, select_linears, replace_module)

# %%
anatomy, first_layer = {}, {}
rows = []
for strategy in bert.STRATEGIES:
    model, stages = bert.build_classifier(bert_base, strategy, num_classes=2, bottleneck=BOTTLENECK,
                                          rank=RANK, alpha=ALPHA)
    rows += [(strategy, step, c.trainable, c.total, f"{c.percent:.2f}%")
             for step, c in stages.items()]
    anatomy[strategy] = stages[list(stages)[-1]]
    first_layer[strategy] = model.base_model.encoder.layer[0]
    del model
lora_only = anatomy["lora"].trainable - anatomy["head_only"].trainable
adapter_only = anatomy["adapters"].trainable - anatomy["head_only"].trainable
del bert_base
Markdown(markdown_table(rows, ["strategy", "step", "trainable", "total", "trainable %"]))

# %% [markdown]
# Here is the first of BERT-base's twelve layers after each operation, printed. With adapters,
# `attention.output.dense` and `output.dense` have become `AdaptedLinear`s, each holding the
# original `Linear` and a `BottleneckAdapter` (768 -> 64 -> 768); with LoRA, `query` and `value`
# have become `LinearWithLoRA`s, holding the frozen `Linear` and the rank-8 `LoRALayer`. Every
# other module is the pre-trained one, untouched:

# %%
print("adapters:", first_layer["adapters"], "\nLoRA:", first_layer["lora"], sep="\n")

# %% [markdown]
# What the numbers are made of:

# %%
d, layers = 768, 12
print(f"head: {d} x 2 weights + 2 biases = {d * 2 + 2:,}")
print(f"LoRA: {layers} layers x 2 projections (query, value) x rank {RANK} x ({d} + {d}) = "
      f"{layers * 2 * RANK * (d + d):,}; measured {lora_only:,}")
per_adapter = 2 * d * BOTTLENECK + d + BOTTLENECK
print(f"adapters: {layers} layers x 2 adapters x (2 x {d} x {BOTTLENECK} + {d} + {BOTTLENECK} = "
      f"{per_adapter:,}) = {layers * 2 * per_adapter:,}; measured {adapter_only:,}")

# %% [markdown]
# Seed 000 prints `Trainable parameters: 109483778 / 109483778 (100.00%)` for full fine-tuning and
# `1538 / 109483778 (0.00%)` for the head alone: the same figures as ours. Its adapter and LoRA
# cells cannot give comparable ones, and we fix both:
#
# - Its `AdapterTransformerLayer` calls `sa_layer_norm`, `ffn` and `output_layer_norm`, which are
#   DistilBERT's attribute names; a `BertLayer` has none of them, so the first forward pass
#   fails. `add_bert_adapters` instead wraps BERT's own output projections
#   (`attention.output.dense` and `output.dense`), so each adapter sits after its block and before
#   the block's residual LayerNorm, as in Houlsby et al.
# - Its adapters start from random up-projections and add a LayerNorm, so inserting them changes
#   every output of the pre-trained model before any training. Ours start with a zero
#   up-projection: at insertion the adapted model computes exactly what the pre-trained one did.
# - Its LoRA cell runs on the model the adapter cell already modified (the same `base_model`
#   object), so the counted model holds both adapters and LoRA. `build_classifier` starts each
#   strategy from a fresh copy of the encoder, and `apply_lora` refuses a layer that is
#   already wrapped.

# %% [markdown]
# ## Tokens: `[CLS]` and `[SEP]`
#
# BERT's tokenizer splits text into word pieces, adds `[CLS]` (id 101) at the start and `[SEP]`
# (id 102) at the end of each sentence, and marks each token with its segment (0 for the first
# sentence, 1 for the second) in `token_type_ids`. The encoder used below has bert-base-uncased's
# vocabulary on both profiles.

# %%
tokenizer = hf.load_tokenizer(ROLE)
print(type(tokenizer).__name__, f"vocabulary {len(tokenizer):,}")
print("'hello world' ->", tokenizer("hello world")["input_ids"])
pair = tokenizer("The film was wonderful.", "I would watch it again.", return_tensors="pt")
tokens = tokenizer.convert_ids_to_tokens(pair["input_ids"][0])
for token, segment in zip(tokens, pair["token_type_ids"][0].tolist()):
    print(f"{token:12s} segment {segment}")

# %%
seed_text = "Agney really loves Pokemon, Lucario is his favorite."
seed_ids = tokenizer.encode(seed_text)
print(seed_ids)
print(tokenizer.convert_ids_to_tokens(seed_ids))
printed_in_seed = [101, 12943, 5420, 7459, 20421, 102]
print("the source's ids decode to:", tokenizer.convert_ids_to_tokens(printed_in_seed))

# %% [markdown]
# Seed 003 shows `[101, 12943, 5420, 7459, 20421, 102]` for that sentence, with the comment
# "102 -> [CLS] and 102 -> [SEP]". The comment should read 101 -> [CLS]. And the six ids are not
# those of that sentence: decoded with the same bert-base-uncased vocabulary they read
# "agney loves pokemon", so the output was left over from an earlier version of the text. Printed
# outputs in a notebook are only as current as the last run of their cell.
#
# ## The pooler
#
# `BertModel` returns two things: `last_hidden_state`, one vector per token, and `pooler_output`,
# which is a `Linear(768, 768)` followed by `tanh` applied to the `[CLS]` vector. In the original
# BERT it was trained by the next-sentence-prediction task. We load the pre-trained encoder and
# compute the pooler by hand:

# %%
encoder = hf.load_model(ROLE)
print(hf.describe(ROLE))
print(f"{type(encoder).__name__}: {encoder.config.num_hidden_layers} layers, "
      f"hidden {encoder.config.hidden_size}, {count_parameters(encoder).total:,} parameters")
encoder.eval()
with torch.no_grad():
    out = encoder(**pair)
    cls_vector = out.last_hidden_state[:, 0]
    by_hand = torch.tanh(encoder.pooler.dense(cls_vector))
print("last_hidden_state", tuple(out.last_hidden_state.shape),
      " pooler_output", tuple(out.pooler_output.shape))
print("tanh(dense(h[CLS])) equals pooler_output:",
      torch.allclose(by_hand, out.pooler_output, atol=1e-6))
assert torch.allclose(by_hand, out.pooler_output, atol=1e-6)

# %% [markdown]
# Seed 003 checks the same thing with `==`. Exact equality of floating-point results holds only
# while both sides happen to run the same kernels in the same order; `torch.allclose` states what
# we mean. Note that seed 000's classifier reads `last_hidden_state[:, 0]`, not the pooler: the
# pooler's 590,592 parameters are counted in every total above, but they receive no gradient.
#
# ### Which vector should the head read?
#
# A frozen encoder is only as useful as the vector the head reads. BERT-base learned to put a
# summary in `[CLS]` (next-sentence prediction trains it). The `ci` profile's stand-in,
# all-MiniLM-L6-v2, was trained by sentence-transformers through the *average* of its token
# vectors, so its `[CLS]` state need not summarise anything. We measure how much each candidate
# varies from one review to another at the depth used for training below (the spread between
# reviews is what a linear head can use):

# %%
imdb = data.load_imdb()
if NUM_LAYERS is not None:
    bert.truncate_layers(encoder, NUM_LAYERS)
probe_ids, probe_mask = data.encode_batch([text for _, text in imdb.train[:64]], tokenizer, MAX_LEN)
with torch.no_grad():
    hidden = encoder(input_ids=probe_ids, attention_mask=probe_mask).last_hidden_state
spread = {"[CLS]": hidden[:, 0].std(dim=0).median().item(),
          "mean over tokens": bert.mean_pool(hidden, probe_mask).std(dim=0).median().item()}
for name, value in spread.items():
    print(f"{name:17s} median spread across 64 reviews: {value:.4f}")

# %%
ratio = spread["mean over tokens"] / spread["[CLS]"]
Markdown(
    f"With {encoder.config.num_hidden_layers} layers of {hf.describe(ROLE)}, "
    "the average over tokens varies "
    f"{ratio:.0f} times more between reviews than the `[CLS]` vector. The head here reads "
    f"""**{'the [CLS] vector, as in the source' if POOLING == 'cls'
           else 'the average over the real tokens'}** """
    f"(`POOLING = {POOLING!r}`: "
    f"`{'EncoderClassifier' if POOLING == 'cls' else 'bert.MeanPoolingClassifier'}`). "
    "Same modules, same parameter counts; only the vector given to the head differs."
)

# %% [markdown]
# ## Part 2: four strategies on movie-review sentiment
#
# On `full` this is the source's setting: bert-base-uncased on the IMDB reviews, with the
# `[CLS]` head. The source trains nothing, so it gives no recipe; we use the customary one:
# AdamW, a learning rate of 2e-5 for the pre-trained weights (the BERT paper fine-tunes with
# 2e-5 to 5e-5 for 2 to 4 epochs), larger ones for the freshly initialised modules (head,
# adapters, LoRA), gradient clipping at 1, and reviews cut to 256 word pieces.
#
# On `ci` (CPU, seconds) the encoder is all-MiniLM-L6-v2, a real pre-trained BERT-architecture
# model from a PyPI wheel, cut to its first two layers so that four trainings fit in well under
# a minute, with a head on the average over tokens (see above), trained on a couple of hundred
# generated reviews cut to 64 word pieces. Its numbers show the mechanics, not BERT-base's
# accuracy on IMDB.

# %%
print(imdb.source)
train, valid = data.train_valid_split(imdb.train, valid_fraction=0.05, seed=SEED)
# the test reviews are stored negatives first: a cut takes a random subset (`take`),
# not the first ones
train, valid, test = (train[:TRAIN_SIZE], valid[:VALID_SIZE],
                      imdb.take(test=TEST_SIZE, seed=SEED).test)
print(f"train {len(train):,}  valid {len(valid):,}  test {len(test):,}")
print(f"encoder: {encoder.config.num_hidden_layers} layers, "
      f"{count_parameters(encoder).total:,} parameters")

# %% [markdown]
# `ftcourse.data.make_loader`, given the tokenizer instead of chapter 2's vocabulary, tokenises
# every review once, pads each batch to its longest review
# and groups reviews of similar length into the same batch. Each batch is
# `(labels, input_ids, attention_mask)`; `fit` calls the model as
# `model(input_ids, attention_mask)`.
# The attention mask is 1 on real tokens and 0 on padding, so attention (and the average over
# tokens) ignores the padding.

# %%
train_loader = data.make_loader(train, tokenizer, BATCH_SIZE, shuffle=True, max_length=MAX_LEN,
                                seed=SEED)
valid_loader = data.make_loader(valid, tokenizer, 64, max_length=MAX_LEN)
test_loader = data.make_loader(test, tokenizer, 64, max_length=MAX_LEN)
labels, input_ids, attention_mask = next(iter(train_loader))
print("labels", labels.tolist())
print("input_ids", tuple(input_ids.shape), " padding share",
      f"{1 - attention_mask.float().mean():.1%}")
print(tokenizer.decode(input_ids[0][attention_mask[0].bool()])[:300])

# %% [markdown]
# Each strategy starts from a fresh copy of the same pre-trained encoder, with the same seed, and
# trains with AdamW at its own learning rate (`ftcourse.experiment.run_strategy`, as in chapter 2;
# training goes on from the random state the new head was drawn with).

# %%
runs, trained = {}, {}
for strategy in bert.STRATEGIES:
    ftcourse.set_seed(SEED)
    model, stages = bert.build_classifier(encoder, strategy, num_classes=2, bottleneck=BOTTLENECK,
                                          rank=RANK, alpha=ALPHA, pooling=POOLING)
    print(f"{strategy}: " + "; ".join(f"{step}: {c}" for step, c in stages.items()))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LR[strategy], weight_decay=0.01)
    runs[strategy] = run_strategy(strategy, model, train_loader, valid_loader, test_loader,
                                  seed=None, cache=False,
                                  plot=False, epochs=EPOCHS, optimizer=optimizer, clip=CLIP)
    trained[strategy] = model
full_model = trained["full"]

# %%
fig, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3.2))
for ax, strategy in zip(axes, runs):
    plots.plot_history(runs[strategy].history, title=strategy, ax=ax)
fig.tight_layout()

# %% [markdown]
# ## Comparison

# %%
Markdown(table(list(runs.values()), ["accuracy", "params", "share", "seconds"]))

# %%
fig = plots.plot_comparison(
    {s: r.accuracy for s, r in runs.items()},
    title=f"sentiment test accuracy ({PROFILE} profile)",
    chance=0.5,
    annotations={s: f"{r.trainable:,} trained" for s, r in runs.items()},
)

# %% [markdown]
# In words, generated from the runs above (`compare` names a winner only when the gap is larger
# than the test set's noise, as in chapter 2):

# %%
best = max(runs, key=lambda s: runs[s].accuracy)
versus_full = "; ".join(
    f"{compare(runs[s], runs['full'])}, "
    f"training {100 * runs[s].trainable / runs['full'].trainable:.2g}% of its "
    "parameters" for s in ("head_only", "adapters", "lora"))
Markdown(
    f"On the `{PROFILE}` profile ({hf.describe(ROLE)}, {encoder.config.num_hidden_layers} layers; "
    f"IMDB: {imdb.source}; "
    f"{len(train):,} training reviews, {EPOCHS} epochs), "
    f"the highest test accuracy was **{best}**'s, "
    f"{runs[best].accuracy:.3f}; full fine-tuning reached {runs['full'].accuracy:.3f}. "
    f"{versus_full}. "
    f"With {len(test):,} test reviews, one review is {1 / len(test):.1%} of accuracy, "
    "so a gap of a few "
    "points between strategies says little about which is better. "
    "What does not depend on the run is the storage: on BERT-base in 32-bit floats, "
    "a task's LoRA weights "
    f"and head take {anatomy['lora'].trainable * 4 / 1e6:.1f} MB and its adapters and head "
    f"{anatomy['adapters'].trainable * 4 / 1e6:.1f} MB, "
    "next to one shared copy of the encoder, where full "
    f"fine-tuning stores a whole new model of {anatomy['full'].total * 4 / 1e6:.0f} MB per task."
)

# %% [markdown]
# How much of that is the seed? The same comparison run with `SEED` 0 to 4 on the `ci` profile
# (`python bench/ci_seeds.py --out results/ci-seeds 05_bert_strategies`), recorded in
# `results/ci-seeds/`, gave these test accuracies:

# %%
Markdown(results.seed_table(
    "05_bert_strategies",
    {"full fine-tuning": "accuracy/full", "head only": "accuracy/head_only",
     "LoRA": "accuracy/lora", "adapters": "accuracy/adapters"},
))

# %% [markdown]
# Full fine-tuning came first in four seeds of five and adapters last in every seed, but a
# strategy moves by up to 15 points from one seed to the next: with a couple of hundred
# training reviews and two epochs, the newly initialised adapters have barely started to
# learn. The source trains none of the four, so there is no figure of theirs to compare with.

# %% [markdown]
# ## Using the fine-tuned model

# %%
reviews = ["An absolute delight: moving, funny and beautifully acted.",
           "Dull, predictable and far too long. I want my evening back."]
for review, label in zip(reviews, predict(full_model, reviews, tokenizer, imdb.classes,
                                          max_length=MAX_LEN)):
    print(f"{label:16s} <- {review}")

# %% [markdown]
# At the accuracies above some answers will be wrong, more so on `ci`, where the model has seen a
# couple of hundred generated reviews whose wording differs from these.
#
# ## Sharing the result on the hub
#
# Seed 000 ends by pushing its classifier to the Hugging Face hub (`save_model_to_hf(model,
# 'new_model')`, which fails there with "403 Forbidden: You don't have the rights to create a
# model under the namespace": a token may only write to its owner's namespace).
# `ftcourse.hub.push_to_hub` uploads the weights that were trained (for LoRA, the low-rank
# matrices and the head: the small file that, with the public pre-trained encoder, rebuilds the
# model) as safetensors to a repository you own. It needs a write token in `HF_TOKEN`; without
# one, and always on `ci`, the cell says why it does not push:

# %%
REPO_ID = "your-username/bert-imdb-lora"  # a repository in your own namespace
skip = hub.push_skip_reason()
if skip:
    print(f"not pushed: {skip}")
else:
    print("pushed:", hub.push_to_hub(trained["lora"], REPO_ID))

# %% [markdown]
# ## What we learned
#
# - BERT-base's 109 million parameters are embeddings, twelve identical layers (attention,
#   feed-forward, two LayerNorms) and a pooler; counting needs only the config, not the weights.
# - `[CLS]` opens every input and `[SEP]` closes each sentence; the pooler is a dense layer and
#   `tanh` on `[CLS]`, which seed 000's head does not use.
# - The four strategies differ only in what trains: everything, the head, adapters after each
#   block, or low-rank updates of query and value. Adapters and LoRA are module surgery: walk
#   `named_modules()`, wrap the chosen `Linear`s, freeze the rest.
# - Trainable share is a storage and memory question as much as an accuracy one: a LoRA task is
#   a file of about a megabyte beside one shared encoder.
# - With a few hundred test reviews, gaps of a few points between strategies are within noise.

# %% tags=["hide-input"]
measured = {
    "count/named_parameters": len(named),
    "count/params_2d": matrices,
    "count/bert_base_total": total,
    "count/classifier_total": anatomy["full"].total,
    "count/head_only_trainable": anatomy["head_only"].trainable,
    "count/lora_qv_r8": lora_only,
    "count/adapters_b64_trainable": anatomy["adapters"].trainable,
}
path = results.record(
    "05_bert_strategies", measured, runs=list(runs.values()),
    data_source=f"IMDB: {imdb.source}; encoder: {hf.describe(ROLE)}, "
                f"{encoder.config.num_hidden_layers} layers",
    seconds=timer.seconds,
    extra={"lr": LR, "epochs": EPOCHS, "max_len": MAX_LEN, "pooling": POOLING,
           "train_size": len(train),
           "test_size": len(test)},
)
metrics = results.load("05_bert_strategies")["metrics"]
print(f"recorded {len(metrics)} metrics in {path.name}")
# The anatomy counts are exact on every profile (the source documents' figures).
results.check(metrics, {
    "count/named_parameters": (199, 199),
    "count/params_2d": (109_360_128, 109_360_128),
    "count/bert_base_total": (109_482_240, 109_482_240),
    "count/classifier_total": (109_483_778, 109_483_778),
    "count/head_only_trainable": (1_538, 1_538),
    "count/lora_qv_r8": (294_912, 294_912),
    "count/adapters_b64_trainable": (2_380_802, 2_380_802),
})
if PROFILE == "ci":
    # Over SEED 0-4 (bench/ci_seeds.py; 200 test reviews drawn at random; chance 0.5): full
    # 0.690-0.795, head only 0.705-0.780, adapters 0.600-0.745, LoRA 0.670-0.780. The trainable
    # counts are those of MiniLM's first two layers (hidden 384): head 770; LoRA 2 x 2 x 8 x 768
    # + 770; adapters 4 x 49,600 + 770.
    results.check(metrics, {
        "accuracy/full": (0.62, 1.0),
        "accuracy/head_only": (0.62, 1.0),
        "accuracy/adapters": (0.55, 1.0),
        "accuracy/lora": (0.6, 1.0),
        "trainable_params/full": (15_616_130, 15_616_130),
        "trainable_params/head_only": (770, 770),
        "trainable_params/adapters": (199_170, 199_170),
        "trainable_params/lora": (25_346, 25_346),
    })

# %% [markdown]
# ## Beside a run on real data
#
# The numbers on this page come from the profile it was built on. The same chapter was also run
# on the real text samples on a CPU, with the sizes and model named below (the book's results
# page has every recorded run):

# %%
Markdown(realdata.chapter_markdown("05_bert_strategies", metrics, PROFILE))
