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
# # 11. Supervised fine-tuning of a causal LM as an assistant
#
# A pre-trained causal language model continues text. To make it *answer*, we fine-tune it on
# conversations: **supervised fine-tuning** (SFT). The source notebook does this with TRL's
# `SFTTrainer` on `facebook/opt-350m` and `timdettmers/openassistant-guanaco`, conversations
# written as `### Human: ...### Assistant: ...`, for 10 epochs at learning rate 2e-5, batch 2,
# sequences up to 1,024 tokens. The key idea is **loss on the assistant's words only**: the model
# reads the question but is never trained to produce it.
#
# The source's code no longer runs and hid its results: it used `DataCollatorForCompletionOnlyLM`
# (removed from TRL), commented out `trainer.train()` and loaded weights trained elsewhere, and
# asked its before/after questions as bare text, not in the `### Human:` format the model was
# tuned on. Its reported outputs (theirs, not ours): before tuning, OPT-350m answered
# "monopsony" with a loop ("The term 'mono-economy' is used in the context of the 'mono-economy'
# model..."); after, with a fluent if inaccurate definition. Here everything is trained and
# measured in the page: the held-out loss, the same prompts answered before and after, and
# ROUGE against the reference answers (the offline metric of the source's evaluation section).
#
# In Colab the first cell upgrades its `datasets` 4.0 (and `huggingface_hub` with it): TRL 1.16,
# which this chapter trains with, needs `datasets` 4.7 or newer. Colab's kernel is left as it is.

# %% tags=["remove-cell"]
# Installs the companion package when this notebook runs in Colab (upgrading datasets for TRL).
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse[sft,nlp-eval] @ git+https://github.com/ftcourse/ftcourse@main"
    # !python -m ftcourse doctor
    pass

# %%
import tempfile

import ftcourse  # first: it quiets notices that importing transformers prints (ftcourse._quiet)
import datasets
import matplotlib.pyplot as plt
from IPython.display import Markdown

from ftcourse import catalog, corpora, hf, pages, results, sft
from ftcourse.adapt import count_parameters
from ftcourse.standins.causal import complete_statements
from ftcourse.tables import markdown_table

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
EPOCHS = ftcourse.choose(ci=4, full=1)  # the source: 10 (--set EPOCHS=10); see "Time on a free GPU"
LR = ftcourse.choose(ci=6e-3, full=2e-5)  # a tiny model takes a larger step
BATCH_SIZE = ftcourse.choose(ci=16, full=2)  # the source: 2 per device
MAX_LENGTH = ftcourse.choose(ci=128, full=1024)  # the source's max_seq_length
MAX_NEW_TOKENS = ftcourse.choose(ci=20, full=70)  # the source: max_new_tokens=70
N_ROUGE = ftcourse.choose(ci=40, full=100)  # held-out conversations answered for ROUGE
N_TRAIN = None  # training conversations (None: all of them)
# full: a few conversations are longer than MAX_LENGTH
MAX_DROPPED = ftcourse.choose(ci=0.0, full=0.02)
# full: conversations of similar lengths batched together, 1.34x fewer tokens (bench/padding.py)
SAMPLING = ftcourse.choose(ci="random", full="group_by_length")
timer = results.Timer()
ftcourse.set_seed(SEED)
datasets.disable_progress_bars()  # the trainer shows its own bar; the per-map bars are noise
print(f"profile={PROFILE} device={ftcourse.device()} epochs={EPOCHS} lr={LR} batch={BATCH_SIZE}")

# %% [markdown]
# What the `full` run of this chapter costs, from the measured step (the `ci` run on this page
# takes seconds):

# %%
Markdown(catalog.budget_markdown("11"))

# %%
pages.banner("11_sft_assistant")

# %% [markdown]
# ## Time on a free GPU
#
# One epoch on `full` is 4,923 steps: 9,846 conversations, 2 at a time, up to 1,024 tokens each.
# `bench/full_size_cost.py` counted 4.0 TFLOP in one OPT-350m training step at 2 x 1,024 tokens,
# so the source's 10 epochs are about 199,000 TFLOP: at least 51 minutes on a T4 even at its
# 65 TFLOP/s fp16 peak, and in practice several times that, more than a free Colab session
# reliably holds. So `full` trains one epoch (the budget below); `python -m ftcourse run
# notebooks/11_sft_assistant.ipynb --set EPOCHS=10` (or editing the parameters cell) gives the
# source's run. Batching conversations of similar lengths cuts the tokens computed by 1.34x
# (`bench/padding.py`). A checkpoint is saved after every epoch: if the
# session drops, run the notebook again and training resumes from the last saved epoch.

# %% [markdown]
# ## The data
#
# On `full` these are the 9,846 training and 518 held-out conversations of
# openassistant-guanaco (from the hub, or its two jsonl files in `FTCOURSE_DATA_DIR`). On `ci`
# ftcourse generates conversations in the same format whose answers follow from the question by a
# rule or a small table (capitals, opposites, numbers of legs, sums, plurals, repetition), so a
# tiny model can learn something in seconds and we can tell right answers from wrong ones.

# %%
data = sft.load_guanaco()
data.train = data.train[:N_TRAIN]
print(data.source)
print(f"train {len(data.train):,}  held-out {len(data.eval):,}")
for text in data.train[:2]:
    print(repr(text[:300]))

# %% [markdown]
# ## Prompt and completion
#
# Each conversation becomes a **prompt** (everything up to and including the last
# `### Assistant:`) and a **completion** (that last reply). Earlier turns stay in the prompt as
# context. A prompt/completion dataset is what TRL now expects for loss on the answer only: it
# tokenizes prompt + completion, appends the end-of-sequence token to the completion (so the
# model learns to stop), and labels every prompt token -100, which the cross-entropy ignores.

# %%
train_records = data.prompt_completion("train")
eval_records = data.prompt_completion("eval")
print(train_records[0])
assert train_records[0]["prompt"] + train_records[0]["completion"] in data.train[0]

# %% [markdown]
# ## The model
#
# On `full` it is `facebook/opt-350m`, pre-trained on web text. On `ci` the stand-in is a tiny
# OPT (same architecture family) with a byte-level BPE tokenizer trained here, pre-trained the
# same way, by next-token prediction on plain text, for a few seconds (on first use, then cached)
# on the generated small world: its facts as statements ("The capital of Peru is Lima.") and
# short film opinions. Neither has seen a `### Human:` conversation.

# %%
print(hf.describe("sft"))
tokenizer = hf.load_tokenizer("sft")
model = hf.load_model("sft", seed=SEED).to(ftcourse.device())
counts = count_parameters(model)
print(counts)

# %% [markdown]
# ### What the base model knows
#
# A pre-trained model knows things, in the form it read them. We cut statements of the world's
# facts (capitals, opposites, legs, sums, plurals: what the `ci` questions ask about) before
# their last word and let the base model finish them, greedily:

# %%
statements = sorted(set(corpora.world_sentences(300, seed=1)))
probe = complete_statements(model, tokenizer, statements)
knows = sum(right for *_, right in probe) / len(probe)
Markdown(f"It finishes {knows:.0%} of {len(probe)} statements right. Some of them:\n\n"
         + markdown_table([(p, a, c, "yes" if ok else "no") for p, a, c, ok in probe[::12]],
                          ["statement cut before its last word", "expected", "continuation",
                           "right"]))

# %% [markdown]
# ## The trainer, and the label mask it builds
#
# `ftcourse.sft.make_sft_trainer` wraps `SFTTrainer` with the settings that matter here and
# with two checks. Its source:

# %%
pages.show_code(sft.make_sft_trainer)

# %%
# full: a checkpoint after every epoch, in a folder named after these settings, so running the
# training cell again after a dropped session resumes from the last epoch (hf.train_resumable).
workdir = ftcourse.choose(
    ci=tempfile.mkdtemp(prefix="ftcourse-sft-"),
    full=hf.checkpoint_dir("11_sft_assistant", model=hf.describe("sft"), epochs=EPOCHS, lr=LR,
                           batch=BATCH_SIZE, max_length=MAX_LENGTH, n_train=N_TRAIN, seed=SEED),
)
trainer = sft.make_sft_trainer(
    model, tokenizer, train_records, eval_records, output_dir=workdir, epochs=EPOCHS, lr=LR,
    batch_size=BATCH_SIZE, max_length=MAX_LENGTH, seed=SEED, logging_strategy="epoch",
    # the share of conversations with no answer token left after truncation
    max_dropped=MAX_DROPPED,
    train_sampling_strategy=SAMPLING,
    save_strategy=ftcourse.choose(ci="no", full="epoch"), save_total_limit=1,
)
print("examples dropped by truncation:", sft.dropped_examples(trainer, train_records, eval_records))

# %% [markdown]
# One tokenized example as the trainer will see it: each token and its label. Prompt tokens are
# labelled -100; from the first token of the answer on, each label is the token's own id (the
# model shifts labels by one position internally, so position *t* is trained to predict token
# *t+1*).
#
# The mask itself takes a few lines. `sft.tokenize_prompt_completion` builds the same ids and
# labels as TRL (the test suite checks that they are equal, example by example), written out so
# that you can see it: append the end-of-sequence token to the completion, tokenize prompt +
# completion together, and label -100 every token of the prefix it shares with the prompt
# tokenized alone (tokenizing the two together can merge characters across the boundary, so the
# shared prefix, not the prompt's length, marks where the answer starts).

# %%
pages.show_code(sft.tokenize_prompt_completion)

# %% [markdown]
# The first example of the training set, token by token:

# %%
row = trainer.train_dataset[0]
table = sft.label_table(tokenizer, row)
first = next(i for i, (_, label) in enumerate(table) if label != "-100")
print(f"{len(table)} tokens; the first supervised one is #{first}: {table[first][0]!r}")
Markdown(markdown_table([(i, f"`{tok}`", str(label)) for i, (tok, label) in enumerate(table)],
                        ["position", "token", "label"]))

# %% [markdown]
# **The trap this replaces.** The removed `DataCollatorForCompletionOnlyLM` looked for the token
# ids of `"### Assistant:"` inside each tokenized example. A BPE tokenizer can split the same
# characters differently depending on what precedes them, so the search can fail; the collator
# then labelled *every* token -100 and the loss read 0.0, with no error. Here are the ids of the
# template tokenized alone (with the leading space it often has in text) and whether they occur in
# our example:

# %%
template = tokenizer(" " + sft.ASSISTANT, add_special_tokens=False)["input_ids"]
ids = row["input_ids"]
found = any(ids[i:i + len(template)] == template for i in range(len(ids)))
print("template alone:", tokenizer.convert_ids_to_tokens(template))
print("found in the example's ids:", found)

# %% [markdown]
# The prompt/completion split works on text, before tokenization, so it cannot miss. And in case
# anything else empties the mask (truncation, a wrong split), `make_sft_trainer` raises when an
# example has no supervised token, and its collator raises on any batch without one.
#
# ## Before training
#
# The held-out loss (on the answers only) and the answers to a few held-out prompts. On `full`
# we add the source's own question.

# %%
questions = [r["prompt"] for r in eval_records[:6]]
if PROFILE == "full":
    questions.append(sft.make_prompt(
        'Can you write a short introduction about the relevance of the term "monopsony" in '
        'economics? '
        "Please use examples related to potential monopsonies in the labour market and cite "
        "relevant research."))
rouge_prompts = [r["prompt"] for r in eval_records[:N_ROUGE]]
references = [r["completion"].strip() for r in eval_records[:N_ROUGE]]

eval_before = trainer.evaluate()["eval_loss"]
answers_before = sft.generate_answers(model, tokenizer, questions, MAX_NEW_TOKENS)
held_out_before = sft.generate_answers(model, tokenizer, rouge_prompts, MAX_NEW_TOKENS)
rouge_before = sft.rouge(held_out_before, references)
exact_before = sum(a == r for a, r in zip(held_out_before, references))
print(f"held-out loss before: {eval_before:.3f}  ROUGE before: "
      + ", ".join(f"{k} {v:.3f}" for k, v in rouge_before.items()))

# %% [markdown]
# ## Training

# %%
train_timer = results.Timer()
hf.train_resumable(trainer)
train_seconds = train_timer.seconds
history = [h for h in trainer.state.log_history if "loss" in h or "eval_loss" in h]
train_curve = [(h["epoch"], h["loss"]) for h in history if "loss" in h]
eval_curve = [(0.0, eval_before)] + [(h["epoch"], h["eval_loss"]) for h in history
                                     if "eval_loss" in h]
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(*zip(*train_curve), marker="o", label="train (answers only)")
ax.plot(*zip(*eval_curve), marker="o", label="held-out (answers only)")
ax.set_xlabel("epoch"), ax.set_ylabel("cross-entropy"), ax.legend()
ax.set_title(f"SFT ({PROFILE})")
plt.show()

# %% [markdown]
# ## After training: the same prompts

# %%
eval_after = trainer.evaluate()["eval_loss"]
answers_after = sft.generate_answers(model, tokenizer, questions, MAX_NEW_TOKENS)
held_out_answers = sft.generate_answers(model, tokenizer, rouge_prompts, MAX_NEW_TOKENS)
rouge_after = sft.rouge(held_out_answers, references)
refs = {r["prompt"]: r["completion"].strip() for r in eval_records}
Markdown(markdown_table(
    [(q.removeprefix(sft.HUMAN).removesuffix(sft.ASSISTANT), b, a, refs.get(q))
     for q, b, a in zip(questions, answers_before, answers_after)],
    ["prompt", "before", "after", "reference"], width=160))

# %% [markdown]
# ## ROUGE against the reference answers
#
# ROUGE-1 and ROUGE-2 count the unigrams and bigrams an answer shares with the reference (F1 of
# overlap); ROUGE-L uses their longest common subsequence. They reward wording, not truth: on
# `ci`, "The capital of Peru is Paris." scores high against "The capital of Peru is Lima.". The
# source computes it with `evaluate.load("rouge")`, which needs the hub; `rouge-score` is the
# same computation offline.

# %%
Markdown(markdown_table(
    [(name, loss, *(scores[k] for k in ("rouge1", "rouge2", "rougeL")))
     for name, loss, scores in (("before", eval_before, rouge_before),
                                ("after", eval_after, rouge_after))],
    ["model", "held-out loss", "ROUGE-1", "ROUGE-2", "ROUGE-L"]))

# %%
exact = sum(a == r for a, r in zip(held_out_answers, references))
Markdown(
    f"On the `{PROFILE}` profile ({data.source}), {EPOCHS} epochs of SFT took {train_seconds:.0f} "
    f"s on {results.device_description()} and brought the held-out loss on the answers from "
    f"{eval_before:.2f} to {eval_after:.2f}; ROUGE-L against the reference answers went from "
    f"{rouge_before['rougeL']:.2f} to {rouge_after['rougeL']:.2f}, and {exact} of the "
    f"{len(references)} held-out answers now match their reference "
    "exactly. " + (f"Before SFT the base model finished {knows:.0%} of the world's statements "
                   f"right but answered {exact_before} of the {len(references)} questions exactly: "
                   "it had the facts, not the format. "
                   "SFT taught it to answer a `### Human:` question with the statement it "
                   "already knew (and, for the one task no statement covers, to repeat a word "
                   "three times)."
                   if PROFILE == "ci" else "")
)

# %% [markdown]
# The held-out answers that still miss their reference:

# %%
misses = [(q.removeprefix(sft.HUMAN).removesuffix(sft.ASSISTANT), a, r)
          for q, a, r in zip(rouge_prompts, held_out_answers, references) if a != r]
Markdown(markdown_table(misses[:8], ["prompt", "answer", "reference"], width=160))

# %% [markdown]
# ## The source's toy fintech assistant
#
# Seed 001 shows SFT at its smallest: three instruction/answer texts for a fintech savings app,
# written `Instruction: ...\nAnswer: ...`, a LoRA on GPT-2 trained on them for one step, and two
# prompts to try. The idea is the one above: the instruction is the prompt, the answer the
# completion. We write its texts in the format our model was tuned on, split them the same way,
# and ask its two prompts. Three examples teach a model very little; the source's point is the
# format. On `ci` the model knows only its generated tasks, so expect its format, not fintech;
# on `full` it is OPT-350m after the guanaco epoch.

# %%
toy = [sft.to_prompt_completion(sft.instruction_to_guanaco(t)) for t in sft.FINTECH_TOY]
fintech = [sft.make_prompt(sft.FINTECH_PROMPTS[0]),
           sft.instruction_to_guanaco(sft.FINTECH_PROMPTS[1])]
for record in toy:
    print(record)
Markdown(markdown_table(
    list(zip(sft.FINTECH_PROMPTS, sft.generate_answers(model, tokenizer, fintech, MAX_NEW_TOKENS))),
    ["the source's prompt", f"our tuned model's answer ({PROFILE})"], width=160))

# %% [markdown]
# ## What the `full` run costs
#
# We have not run the `full` chapter on a GPU, so this is an **estimate**, not a measurement.
# Training a model of $N$ parameters on $T$ tokens costs about $6NT$ floating-point operations
# (forward and backward; the loss mask does not save any, every token is still processed). The
# guanaco training file is 20.9 MB of JSON (the size in the source's download log); at roughly 4
# characters per BPE token that is about 5 million tokens per epoch.

# %%
N = catalog.count_full_parameters("sft")
tokens_per_epoch = 20.9e6 / 4  # an assumption: ~4 characters per token in English BPE
flops = 6 * N * tokens_per_epoch * 10  # the source's 10 epochs
steps = 10 * 9846 / 2  # 10 epochs of 9,846 conversations, batch 2
for label, rate in (("40% of an H100's 989 TFLOP/s (bf16)", 0.4 * 989e12),
                    ("10% of it", 0.1 * 989e12)):
    print(f"{label}: {flops / rate / 60:.0f} min of compute")
print(f"{N:,} parameters; {flops:.2e} FLOPs; {steps:,.0f} optimizer steps")
print("at 30-60 ms per step (launch-bound at batch 2): "
      f"{steps * 0.03 / 60:.0f}-{steps * 0.06 / 60:.0f} min")

# %% [markdown]
# With only two short sequences per step the GPU is mostly waiting on the step itself, so the
# step count, not the arithmetic, sets the time: expect on the order of half an hour to an hour
# on one modern GPU (larger batches or packing would cut it). These per-step figures are
# assumptions; the results page lists recorded `full` runs when there are any.
#
# ## What we learned
#
# - SFT turns a model that continues text into one that answers: train on conversations, with
#   the loss on the assistant's reply only (prompt tokens labelled -100).
# - The knowledge comes from pre-training, the format from SFT: the base model finishes the
#   statements it read but does not answer questions; a few epochs on conversations teach it to
#   answer with what it already knew.
# - Splitting prompt and completion as text, before tokenization, cannot miss the way the removed
#   `DataCollatorForCompletionOnlyLM`'s token search could; a batch with no supervised token
#   should raise, not train on a loss of 0.0.
# - Ask the tuned model in the format it was tuned on (`### Human: ...### Assistant:`).
# - Held-out loss on the answers and ROUGE against references measure the change; ROUGE rewards
#   wording, not truth.
# - The source's 10 epochs of OPT-350m do not fit a free GPU session; one epoch, resumable from
#   a checkpoint per epoch, does.

# %% tags=["hide-input"]
# Records this page's metrics; on ci, checks them against the ranges a run that learns reaches.
metrics = {"eval_loss/before": eval_before, "eval_loss/after": eval_after,
           **{f"{k}/before": v for k, v in rouge_before.items()},
           **{f"{k}/after": v for k, v in rouge_after.items()},
           "exact_match": exact / len(references),
           "exact_match/before": exact_before / len(references),
           "statements_right/base": knows, "trainable_params": counts.trainable}
path = results.record(
    "11_sft_assistant", metrics, data_source=f"{data.source}; model: {hf.describe('sft')}",
    seconds=timer.seconds,
    extra={"epochs": EPOCHS, "lr": LR, "batch_size": BATCH_SIZE, "max_length": MAX_LENGTH,
           "train_seconds": train_seconds, "answers_after": dict(zip(questions, answers_after))},
)
print("recorded", path.name)
if PROFILE == "ci":
    # A model that learned nothing keeps a loss near 7.6 (uniform over 2,000 tokens) and ROUGE
    # near 0; one that learned the format but not the facts (trained from random weights: loss
    # 1.2-1.5) gets ROUGE-L 0.4-0.5 and almost no exact match. Measured with SEED 0: loss 6.13 ->
    # 0.15, ROUGE-L 0.03 -> 0.91, ROUGE-2 -> 0.85, exact match 0.00 -> 0.72; the base model
    # finished 0.93 of the world's statements.
    results.check(metrics, {
        "eval_loss/before": (5.0, 7.5),
        "eval_loss/after": (0.0, 0.6),
        "rougeL/before": (0.0, 0.2),
        "rougeL/after": (0.75, 1.0),
        "rouge2/after": (0.65, 1.0),
        "exact_match/before": (0.0, 0.1),
        "exact_match": (0.5, 1.0),
        "statements_right/base": (0.8, 1.0),
    })
    assert eval_after < eval_before - 3, "the held-out loss must drop"
