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
# # 8. Fine-tuning BERT with a plain PyTorch loop
#
# The `Trainer` of the next chapter hides a loop. Here we write that loop ourselves, for a
# Transformer classifier: Yelp reviews, five classes (1 to 5 stars), a BERT encoder with a new
# classification head. Every step is visible: tokenizing with `datasets`, batching with a
# `DataLoader`, the AdamW optimiser with a linearly decaying learning rate, and for each batch
# `zero_grad`, forward, `backward`, `step`, `scheduler.step`. Accuracy is accumulated with
# torchmetrics.
#
# The source notebook fine-tunes `bert-base-cased` on the first 1,000 training and 200 test
# reviews of `yelp_review_full` for 10 epochs and reports a test accuracy of 0.265 (its figure,
# from a checkpoint trained elsewhere: its training call is commented out). Five classes put
# chance at 0.2. Below we see why, fix it, and compute our own figure.

# %% tags=["remove-cell"]
# Installs the companion package when this notebook runs in Colab.
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse[hf] @ git+https://github.com/ftcourse/ftcourse@main"
    # !python -m ftcourse doctor
    pass

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # text progress bars are fine here

import ftcourse  # first: it quiets notices that importing transformers prints (ftcourse._quiet)
import datasets
import torch
from accelerate import Accelerator
from IPython.display import Markdown
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding, get_scheduler

from ftcourse import catalog, data, experiment, hf, inference, pages, plots, results
from ftcourse.adapt import count_parameters
from ftcourse.loops import evaluate_accuracy, fine_tune, tokenize_dataset, train_loop
from ftcourse.train import predictions

datasets.disable_progress_bars()  # no bar per .map call

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
ROLE = "bert_cased"  # bert-base-cased on full; a tiny BERT with random weights on ci
N_TRAIN = ftcourse.choose(ci=None, full=1000)  # the source's subset: the first 1,000 / 200 reviews
N_TEST = ftcourse.choose(ci=None, full=200)  # (None: the whole generated set on ci, 1,000 / 200)
# tokens kept per review: the source's 512; 128 on ci, where the generated reviews are short
MAX_LEN = ftcourse.choose(ci=128, full=512)
# The source's batch of 2 gives 450 noisy steps per epoch; 8 (its own default elsewhere, and
# what fits bert-base at 512 tokens on a T4) cuts the steps fourfold; 16 on ci for speed.
BATCH_SIZE = ftcourse.choose(ci=16, full=8)
EPOCHS = ftcourse.choose(ci=6, full=10)  # the source trains for 10 epochs; 6 fit the ci minute
LR = ftcourse.choose(ci=1e-3, full=5e-5)  # see "The learning rate" below
SOURCE_LR = 5e-4  # the source's, run next to ours below
timer = results.Timer()
ftcourse.set_seed(SEED)
print(f"profile={PROFILE} device={ftcourse.device()} epochs={EPOCHS} lr={LR} torch "
      f"{torch.__version__}")

# %% [markdown]
# What the `full` run of this chapter costs, from the measured step (the `ci` run on this page
# takes seconds):

# %%
Markdown(catalog.budget_markdown("08"))

# %%
pages.banner("08_pytorch_loop")

# %% [markdown]
# ## The data
#
# On `full` this is `Yelp/yelp_review_full` from the hub (650,000 training and 50,000 test
# reviews; or `yelp_review_full_csv/` under `FTCOURSE_DATA_DIR`), cut to the source's subset. On
# `ci` it is 1,000 + 200 generated restaurant reviews whose star rating is the number of positive
# sentences plus one, with 5% of the labels swapped at random, as real ratings are noisy too.

# %%
yelp = data.load_yelp()
train_items, test_items = yelp.train[:N_TRAIN], yelp.test[:N_TEST]
print(yelp.source)
print(f"train {len(train_items):,}  test {len(test_items):,}  classes {yelp.classes}")
for label, text in train_items[:2]:
    print(f"[{yelp.classes[label]}] {text[:300]}")

# %% [markdown]
# The source tests on its 200 test reviews only. We also hold out 10% of the training reviews
# as a validation set, to watch the accuracy after every epoch without touching the test set.

# %%
train_items, valid_items = data.train_valid_split(train_items, valid_fraction=0.1, seed=SEED)
splits = {"train": train_items, "validation": valid_items, "test": test_items}
raw = {
    name: data.to_dataset_dict(
        data.TextClassificationData("yelp", items, [], yelp.classes, yelp.source))["train"]
    for name, items in splits.items()
}
print({name: len(ds) for name, ds in raw.items()})
print(raw["train"].features)

# %% [markdown]
# ## Tokenizing with `datasets.map`
#
# The tokenizer turns each review into token ids and an attention mask. `tokenize_dataset` runs
# it over the whole dataset with `.map(batched=True)`, drops the raw text, renames `label` to
# `labels` (the name a Hugging Face model looks for to compute its loss) and sets the format to
# torch tensors:

# %%
pages.show_code(tokenize_dataset)

# %% [markdown]
# The source pads every review to 512 tokens in `.map` (`padding="max_length"`). Most reviews
# are far shorter, so most of every batch would be padding that the model still computes. We
# only truncate here and let `DataCollatorWithPadding` pad each batch to its own longest review.

# %%
print(hf.describe(ROLE))
tokenizer = hf.load_tokenizer(ROLE)
tokenized = {name: tokenize_dataset(ds, tokenizer, max_length=MAX_LEN) for name, ds in raw.items()}
sample = tokenized["train"][0]
print(tokenized["train"])
print(
    "label",
    int(sample["labels"]),
    "|",
    " ".join(tokenizer.convert_ids_to_tokens(sample["input_ids"][:24])),
    "...",
)
lengths = [len(ids) for ids in tokenized["train"]["input_ids"]]
print(
    f"tokens per review: mean {sum(lengths) / len(lengths):.0f}, longest {max(lengths)}; "
    f"padding to {MAX_LEN} would make {1 - sum(lengths) / (MAX_LEN * len(lengths)):.0%} "
    "of the positions padding"
)

# %%
collator = DataCollatorWithPadding(tokenizer)
train_loader = DataLoader(
    tokenized["train"],
    shuffle=True,
    batch_size=BATCH_SIZE,
    collate_fn=collator,
    generator=torch.Generator().manual_seed(SEED),
)
valid_loader = DataLoader(tokenized["validation"], batch_size=64, collate_fn=collator)
test_loader = DataLoader(tokenized["test"], batch_size=64, collate_fn=collator)
batch = next(iter(train_loader))
print({k: tuple(v.shape) for k, v in batch.items()})

# %% [markdown]
# ## The model
#
# `AutoModelForSequenceClassification` puts a new, randomly initialised Linear head with five
# outputs on the encoder's pooled [CLS] vector. On `full` the encoder is `bert-base-cased`'s
# pretrained one (108M parameters). On `ci` it is a tiny BERT (hidden size 64, 2 layers) with
# **random** weights and a tokenizer trained on the generated text: the run shows the loop
# working end to end in seconds on a CPU, but it trains the whole network from scratch, so its
# figure says nothing about what pre-training brings.

# %%
model = hf.load_model(
    ROLE,
    task="sequence-classification",
    num_labels=len(yelp.classes),
    id2label=dict(enumerate(yelp.classes)),
    seed=SEED,
)
print(model.classifier, "|", count_parameters(model))
accelerator = Accelerator()
untrained_acc = evaluate_accuracy(model, test_loader, len(yelp.classes), accelerator)
print(
    f"device {accelerator.device}; untrained test accuracy {untrained_acc:.3f} (chance "
    f"{1 / len(yelp.classes):.1f})"
)

# %% [markdown]
# ## Optimiser and schedule
#
# AdamW with a learning rate that falls linearly from `LR` to zero over all training steps.
# The source writes the schedule by hand (`LambdaLR(optimizer, lambda step: 1 - step / total)`);
# `transformers.get_scheduler("linear", ...)` is the same curve, with optional warm-up steps.

# %%
optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
num_training_steps = EPOCHS * len(train_loader)
scheduler = get_scheduler("linear", optimizer, num_warmup_steps=0,
                          num_training_steps=num_training_steps)
print(f"{num_training_steps} steps ({EPOCHS} epochs of {len(train_loader)} batches)")

# %% [markdown]
# ### The learning rate
#
# The source uses AdamW with a learning rate of 5e-4. The BERT paper fine-tunes with 5e-5, 3e-5
# or 2e-5: steps ten times larger push a pretrained encoder far from its weights within a few
# hundred updates, and the model often ends up predicting one or two classes for everything,
# which would fit the source's 0.265. On `full` we use 5e-5. The tiny `ci` model starts from
# random weights, has nothing to preserve and needs larger steps to learn in 6 epochs: 1e-3.
# That is a hypothesis until it is run: after our run, we train the same model again with the
# source's 5e-4 and compare.

# %% [markdown]
# ## The loop
#
# This is `ftcourse.loops.train_loop`, the function that trains below:

# %%
pages.show_code(train_loop)

# %% [markdown]
# Three things in it come from `accelerate`, and they are why the same function runs on a CPU,
# one GPU, or several GPUs (`accelerate launch` or `torchrun` starts one process per GPU):
#
# - `accelerator.prepare(...)` moves the model to the device, wraps it for data-parallel training
#   when there are several processes, gives each process its own share of the batches, and
#   applies mixed precision when it is configured;
# - `accelerator.backward(loss)` replaces `loss.backward()` (it scales the loss under fp16);
# - the progress bar shows only on the main process.
#
# Evaluation collects the predicted class of every item together with its label
# (`ftcourse.train.predictions`, the function every chapter tests with). With several processes
# `gather_for_metrics` collects them from all processes, pairs intact, and drops the copies added
# to give every process the same number of batches:

# %%
pages.show_code(predictions)

# %% [markdown]
# The accuracy is torchmetrics' `MulticlassAccuracy` with `average="micro"`: the share of correct
# predictions. Beware its default, `average="macro"`, the mean of the per-class recalls, a
# different number whenever the classes are not equally hard. (The source's
# `Accuracy(task="multiclass")` defaults to micro.)
#
# ## Training

# %%
ftcourse.set_seed(SEED)
history = train_loop(
    model,
    train_loader,
    optimizer,
    scheduler,
    epochs=EPOCHS,
    eval_loader=valid_loader,
    num_classes=len(yelp.classes),
    accelerator=accelerator,
    desc="fine-tuning",
)
fig = plots.plot_history(history, title=f"Yelp, {hf.describe(ROLE)[:40]}")
print(
    f"{history.steps} steps in {history.seconds:.1f} s; learning rate at the end "
    f"{scheduler.get_last_lr()[0]:.1e}"
)

# %% [markdown]
# ## Testing once

# %%
test_acc = evaluate_accuracy(model, test_loader, len(yelp.classes), accelerator)
preds, labels = predictions(model, test_loader, accelerator=accelerator)
off_by_one = float(((preds - labels).abs() <= 1).float().mean())
Markdown(
    f"On the `{PROFILE}` profile ({yelp.source}; {hf.describe(ROLE)}), the test accuracy went from "
    f"{untrained_acc:.3f} before training to **{test_acc:.3f}** after {EPOCHS} epochs "
    f"(chance is {1 / len(yelp.classes):.2f}); {off_by_one:.1%} of the predictions are within one "
    f"star of the label. The source reports 0.265 for bert-base-cased with a learning rate of 5e-4."
)

# %%
model.eval()
reviews = [
    "The food was wonderful and the staff were friendly. Prices were fair and the room was lovely.",
    "The pasta was bland, our server was rude and slow, and the room was dirty.",
]
for review, guess in zip(reviews, inference.classify_manually(model, tokenizer, reviews, MAX_LEN)):
    print(f"{guess['label']:8s} <- {review}")

# %% [markdown]
# ## The source's learning rate, run
#
# The same model, built from the same seed, trained again by the same loop on the same reviews
# (shuffled from the same seed) with the source's 5e-4; `fine_tune` is the optimiser, the
# schedule and `train_loop` above in one call.
# `experiment.compare` names a winner only when the gap exceeds the noise of the test set. Read
# the `ci` result for what it is: a tiny encoder with random weights has nothing pre-trained to
# lose, so it does not test the claim about bert-base; the `full` profile runs the real test
# (bert-base-cased at 5e-5 against 5e-4, which doubles the chapter's time there). The noise
# `compare` states is the test set's alone, not the training's: with the batches in another
# order (one draw fewer from the shuffling generator) the 5e-4 run reached 0.830 on `ci` instead
# of 0.685, so there the sign of the gap is the finding, not its size.

# %%
source_model = hf.load_model(ROLE, task="sequence-classification", num_labels=len(yelp.classes),
                             id2label=dict(enumerate(yelp.classes)), seed=SEED)
ftcourse.set_seed(SEED)
train_loader.generator.manual_seed(SEED)  # shuffles from the seed again
source_history = fine_tune(source_model, train_loader, lr=SOURCE_LR, epochs=EPOCHS,
                           accelerator=accelerator, desc=f"lr {SOURCE_LR:g}")
lr_runs = [
    experiment.Run(f"lr {lr:g}{who}", {"accuracy": acc}, seconds=h.seconds, n_test=len(test_items))
    for lr, who, acc, h in [
        (LR, " (ours)", test_acc, history),
        (SOURCE_LR, " (the source's)", evaluate_accuracy(source_model, test_loader,
                                                         len(yelp.classes), accelerator),
         source_history)]]
Markdown(experiment.table(lr_runs, ("accuracy", "seconds"), first="learning rate") + "\n\n"
         + str(experiment.compare(*lr_runs)) + ".")

# %% [markdown]
# ## What we learned
#
# - A fine-tuning loop is five lines per batch: `zero_grad`, forward, `backward`, `step`,
#   `scheduler.step`; AdamW with a linearly decaying learning rate is the usual recipe.
# - `datasets.map` tokenizes once; `DataCollatorWithPadding` pads each batch to its own longest
#   review instead of every review to 512 tokens.
# - `accelerate` makes the same loop run on a CPU, a GPU or several GPUs, and
#   `gather_for_metrics` keeps every prediction paired with its label.
# - Accuracy is torchmetrics' micro average; its `MulticlassAccuracy` defaults to macro, a
#   different number.
# - The learning rate is the first thing to check when fine-tuning fails: run the suspect value
#   next to the usual one and let the noise decide.

# %% tags=["hide-input"]
metrics = {
    "accuracy/yelp": test_acc,
    "accuracy/yelp_untrained": untrained_acc,
    "accuracy/yelp_within_one_star": off_by_one,
    "trainable_params/yelp": count_parameters(model).trainable,
    "accuracy/yelp_source_lr": lr_runs[1].accuracy,
}
path = results.record(
    "08_pytorch_loop",
    metrics,
    data_source=f"Yelp: {yelp.source}; model: {hf.describe(ROLE)}",
    seconds=timer.seconds,
    extra={
        "history": history.to_dict(),
        "epochs": EPOCHS,
        "lr": LR,
        "batch_size": BATCH_SIZE,
        "max_len": MAX_LEN,
        "source_lr": SOURCE_LR,
    },
)
print("recorded", path.name)
if PROFILE == "ci":
    # Untrained near chance (0.2), trained far above it (measured with SEED 0: untrained 0.195,
    # trained 0.915; with 4 epochs at lr 2e-3 the same loop reached only 0.475).
    results.check(metrics, {"accuracy/yelp_untrained": (0.1, 0.32), "accuracy/yelp": (0.7, 1.0)})
