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
# # 12. The PEFT library: prompt tuning and LoRA on GPT-2
#
# Chapters 03 and 04 built parameter-efficient fine-tuning by hand. Hugging Face's **PEFT**
# library packages the same methods behind one call, `get_peft_model(model, config)`, for any
# model of the hub. This chapter uses two of them on GPT-2, each trained with a short run of the
# supervised fine-tuning of chapter 11 (loss on the answers only):
#
# | method | what trains | where |
# |---|---|---|
# | prompt tuning | 20 "virtual token" embeddings prepended to every input | the input only |
# | LoRA | low-rank updates $B A$ of `c_attn` and both `c_proj` (attention, MLP) | every block |
#
# Then we save and reload an adapter (a few kilobytes to megabytes instead of the whole model) and
# put PEFT's LoRA side by side with chapter 04's from-scratch LoRA on the same GPT-2.
#
# The source notebook (sections 7 and 8 of "Finetuning from theory to practice") configures both
# methods on `gpt2` and prints the trainable parameters, but never trains the prompt-tuned model
# before generating with it; it then applies LoRA to the *same* `gpt2` object, trains on three
# toy examples for one epoch with a gradient-accumulation of 8 (one optimizer step), computes the
# loss on the instruction as well as the answer, and its texts carry no end-of-sequence token
# (its collator would ignore one anyway: the padding token *is* the end-of-sequence token, and
# padding is left out of the loss), so the model is never taught to stop. It shows no outputs.
# We train each method on a fresh copy of the base model, on the answers only, with the
# end-of-sequence token supervised, and measure before and after.
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
import warnings
from pathlib import Path

import ftcourse  # first: it quiets notices that importing transformers prints (ftcourse._quiet)
import datasets
import torch
from IPython.display import Markdown
from peft import LoraConfig, PeftModel, PromptTuningConfig, TaskType, get_peft_model

from ftcourse import catalog, hf, pages, results, sft
from ftcourse.adapt import count_parameters
from ftcourse.adapt.lora import apply_lora, conv1d_to_linear
from ftcourse.experiment import table
from ftcourse.tables import markdown_table

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
N_TRAIN = ftcourse.choose(ci=320, full=2000)  # conversations for each short SFT run
N_EVAL = ftcourse.choose(ci=40, full=100)  # held-out conversations (loss and ROUGE)
EPOCHS = ftcourse.choose(ci=4, full=1)  # full: the source's one epoch
# full: the source's batch 1 with 8 accumulation steps is 8 per optimizer step; 8 at once is faster
BATCH_SIZE = ftcourse.choose(ci=16, full=8)
# full: the source truncates at 128 tokens, but its texts were one-line toys; most guanaco answers
# start after token 128, so at 128 truncation would leave them with nothing to learn
MAX_LENGTH = ftcourse.choose(ci=128, full=512)
# full: conversations of similar lengths batched together, 1.44x fewer tokens (bench/padding.py)
SAMPLING = ftcourse.choose(ci="random", full="group_by_length")
# full: a few conversations are longer than MAX_LENGTH
MAX_DROPPED = ftcourse.choose(ci=0.0, full=0.02)
# soft prompts take large steps (nothing else moves); the source never trains its prompt tuning
LR_PROMPT = ftcourse.choose(ci=3e-1, full=3e-2)
LR_LORA = ftcourse.choose(ci=2e-2, full=5e-4)  # full: the source's 5e-4
MAX_NEW_TOKENS = ftcourse.choose(ci=20, full=60)
timer = results.Timer()
ftcourse.set_seed(SEED)
datasets.disable_progress_bars()
print(f"profile={PROFILE} device={ftcourse.device()} train={N_TRAIN} epochs={EPOCHS}")

# %% [markdown]
# What the `full` run of this chapter costs, from the measured step (the `ci` run on this page
# takes seconds):

# %%
Markdown(catalog.budget_markdown("12"))

# %% [markdown]
# The source trains its LoRA on three toy sentences (chapter 11 shows them); here both methods
# train on `N_TRAIN` real conversations, since three sentences cannot show whether a method
# learns.

# %%
pages.banner("12_peft_library")

# %% [markdown]
# ## Data and base model
#
# The conversations of chapter 11 (generated ones on `ci`, openassistant-guanaco on `full`), as
# prompt/completion pairs. The base model is GPT-2 (124M parameters) on `full`; on `ci` a tiny
# GPT-2 stands in, pre-trained here for seconds on the generated small world (its facts as
# statements, and short stories; `hf.describe` below says what exactly). Like GPT-2, it has never
# seen a `### Human:` conversation, but it knows the facts the questions ask about: the adapters
# only have to steer a frozen pre-trained network into answering, which is the job they are made
# for. Below, the base model's own answers show that it does not answer yet: it continues the
# text with fragments of what it read.
#
# GPT-2 has no padding token, so we pad with its end-of-text token, and we tell the model's
# config and generation config the same id. Left out, the `Trainer` notices that the tokenizer
# and the model disagree, aligns them itself, and prints a notice each time it is built.

# %%
data = sft.load_guanaco()
train_records = data.prompt_completion("train")[:N_TRAIN]
eval_records = data.prompt_completion("eval")[:N_EVAL]
questions = [r["prompt"] for r in eval_records[:5]]
references = [r["completion"].strip() for r in eval_records]
print(data.source, f"| train {len(train_records)} held-out {len(eval_records)}")
print(hf.describe("generation"))
tokenizer = hf.load_tokenizer("generation")
tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token  # GPT-2 has no padding token


def base_model():
    """A fresh copy of the base model: the same weights every call (the cached stand-in's on ci,
    the hub's on full)."""
    model = hf.load_model("generation", seed=SEED).to(ftcourse.device())
    # The padding id the tokenizer now has, told to the model too (else the Trainer aligns it).
    model.config.pad_token_id = model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


base = base_model()
print(count_parameters(base))
answers_base = sft.generate_answers(base, tokenizer, questions, MAX_NEW_TOKENS)

# %% [markdown]
# ## Prompt tuning: 20 virtual tokens
#
# Prompt tuning (Lester et al., 2021) freezes the whole model and learns only a "soft prompt":
# 20 vectors of the embedding size that are prepended to the embedded input, as if the text began
# with 20 extra tokens that are not words. The model is untouched; the soft prompt steers it.

# %%
prompt_model = get_peft_model(base_model(),
                              PromptTuningConfig(task_type=TaskType.CAUSAL_LM,
                                                 num_virtual_tokens=20))
prompt_model.print_trainable_parameters()
print(count_parameters(prompt_model))
print("soft prompt:", tuple(prompt_model.prompt_encoder["default"].embedding.weight.shape))

# %% [markdown]
# Each method gets the same short run of chapter 11's trainer, measured the same way:
# `sft.train_and_measure` records the held-out loss on the answers before and after training,
# the ROUGE of the held-out answers, the trainable parameters and the seconds, as a `Run`.

# %%
runs, answers, workdir = {}, {}, Path(tempfile.mkdtemp(prefix="ftcourse-peft-"))


def sft_run(name, model, lr):
    runs[name], held_out = sft.train_and_measure(
        name, model, tokenizer, train_records, eval_records, output_dir=workdir / name,
        max_new_tokens=MAX_NEW_TOKENS, seed=SEED, epochs=EPOCHS, lr=lr, batch_size=BATCH_SIZE,
        max_length=MAX_LENGTH, max_dropped=MAX_DROPPED, train_sampling_strategy=SAMPLING)
    answers[name] = held_out[: len(questions)]
    print(runs[name].summary())


sft_run("prompt_tuning", prompt_model, LR_PROMPT)

# %% [markdown]
# ## LoRA on GPT-2, and `fan_in_fan_out`
#
# GPT-2 does not use `nn.Linear`. Its projections are `Conv1D` modules (a name kept from the
# original OpenAI code; they are plain matrix products), which store the weight as
# **[in_features, out_features]** and compute $xW + b$, the transpose of `nn.Linear`'s
# [out, in] and $xW^\top + b$:

# %%
c_attn = base.transformer.h[0].attn.c_attn
print(type(c_attn).__name__, "weight", tuple(c_attn.weight.shape),
      "= [in, out]  (nn.Linear would be",
      (c_attn.weight.shape[1], c_attn.weight.shape[0]), ")")

# %% [markdown]
# LoRA's update $\Delta W = BA$ must have the layout of the weight it is added to, so PEFT must
# know which layout it faces: `fan_in_fan_out=True` says "this weight is stored [in, out],
# transpose the update". The source leaves it at its default, `False`; PEFT notices the Conv1D,
# warns and switches it on by itself:

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    get_peft_model(base_model(), LoraConfig(r=8, lora_alpha=16, target_modules=["c_attn", "c_proj"],
                                            task_type="CAUSAL_LM"))
print([str(w.message)[:140] for w in caught if "fan_in_fan_out" in str(w.message)])

# %% [markdown]
# We set it ourselves. The targets are the source's: `c_attn` (the fused query/key/value
# projection) and `c_proj`, a name that matches *two* layers per block, the attention's output
# projection and the MLP's second layer, as PEFT matches a target against the end of each
# module's name. Rank 8, $\alpha = 16$ (scale $\alpha / r = 2$), dropout 0.05, as in the source.

# %%
lora_config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, bias="none", task_type="CAUSAL_LM",
                         target_modules=["c_attn", "c_proj"], fan_in_fan_out=True)
lora_model = get_peft_model(base_model(), lora_config)
lora_model.print_trainable_parameters()
print(count_parameters(lora_model))
wrapped = sorted(n.removeprefix("base_model.model.") for n, m in lora_model.named_modules()
                 if hasattr(m, "lora_A") and ".h.0." in n)
print("LoRA layers in block 0:", wrapped)

# %%
sft_run("lora", lora_model, LR_LORA)

# %% [markdown]
# ## Before and after
#
#
# The same held-out prompts answered by the base model and by each tuned one, next to the
# reference answer.

# %%
Markdown(markdown_table(
    [(q.removeprefix(sft.HUMAN).removesuffix(sft.ASSISTANT), *row, ref)
     for q, ref, *row in zip(questions, references, answers_base, answers["prompt_tuning"],
                             answers["lora"])],
    ["prompt", "base model", "prompt tuning", "LoRA", "reference"], width=120))

# %%
Markdown(table(list(runs.values()),
               ["trainable", "eval_loss_before", "eval_loss_after", "rouge1", "rouge2", "rougeL",
                "seconds"],
               first="method",
               headers={"eval_loss_before": "held-out loss before", "eval_loss_after": "after",
                        "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L"}))

# %% [markdown]
# ## Saving and reloading an adapter
#
# This is what makes parameter-efficient methods practical beyond training cost: one base model
# on disk, and one small adapter per task or customer, swapped in at load time. The files below
# hold only the trained parameters counted above (a soft prompt of 20 vectors, or the LoRA
# matrices) and a config; the frozen base is not copied. The same trainable-parameter count is
# therefore also the size of what you ship and version.
#
# `save_pretrained` on a PEFT model writes only the adapter: its weights and its config (which
# names the base model). To use it, load the base model and put the adapter on it with
# `PeftModel.from_pretrained`. We reload each adapter onto a fresh base and check that it
# answers exactly as the trained model does.

# %%
reload_diff = {}
for name, model in (("prompt_tuning", prompt_model), ("lora", lora_model)):
    folder = workdir / f"{name}-adapter"
    model.save_pretrained(folder)
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir())}
    reloaded = PeftModel.from_pretrained(base_model(), folder).eval()
    model.eval()
    batch = tokenizer([r["prompt"] + r["completion"] for r in eval_records[:8]],
                      return_tensors="pt", padding=True,
                      # a long conversation must fit the model
                      truncation=True, max_length=MAX_LENGTH)
    batch = batch.to(ftcourse.device())
    with torch.no_grad():
        reload_diff[name] = float((model(**batch).logits - reloaded(**batch).logits).abs().max())
    same = sft.generate_answers(reloaded, tokenizer, questions, MAX_NEW_TOKENS) == answers[name]
    print(f"{name}: files {files}; max logit difference {reload_diff[name]:.2e}; same answers: "
          f"{same}")
    assert same

# %% [markdown]
# ## Side by side with chapter 04's LoRA
#
# `ftcourse.adapt.lora.apply_lora` wraps `nn.Linear` layers. For GPT-2 we first turn the targeted
# `Conv1D` layers into equivalent `nn.Linear` ones: the transposition PEFT's `fan_in_fan_out`
# does on the fly, done once on the weights. Its source:

# %%
pages.show_code(conv1d_to_linear)

# %% [markdown]
# Same targets, same rank and $\alpha$, same scaling convention (`alpha / rank`): the two count
# the same trainable parameters. Our `A` is [in, rank] and `B` [rank, out] (chapter 04's
# $x A B$); PEFT's `lora_A` and `lora_B` are `nn.Linear` layers whose weights are the transposes.
# Copying PEFT's trained matrices into ours (transposed) must give the same model:

# %%
ours = base_model()
converted = conv1d_to_linear(ours, ["c_attn", "c_proj"])
names = apply_lora(ours, ["c_attn", "c_proj"], rank=8, alpha=16)
ours_count, peft_count = count_parameters(ours), count_parameters(lora_model)
print(f"from scratch: {ours_count}\nPEFT:         {peft_count}")
with torch.no_grad():
    for name in names:
        theirs = lora_model.base_model.model.get_submodule(name)
        mine = ours.get_submodule(name).lora
        mine.A.copy_(theirs.lora_A["default"].weight.T)
        mine.B.copy_(theirs.lora_B["default"].weight.T)
ours.eval(), lora_model.eval()
with torch.no_grad():
    side_diff = float((ours(**batch).logits - lora_model(**batch).logits).abs().max())
    with lora_model.disable_adapter():  # the base model alone: how much the trained update changes
        base_logits = lora_model(**batch).logits
    adapter_effect = float((base_logits - lora_model(**batch).logits).abs().max())
print(f"the trained LoRA update moves the logits by up to {adapter_effect:.2f}; the two "
      f"implementations differ by {side_diff:.1e}")
Markdown(markdown_table([
    ("GPT-2 projection", "`Conv1D`, weight [in, out]",
     "converted to `nn.Linear`, weight [out, in]"),
    ("telling it the layout", "`fan_in_fan_out=True`", "`conv1d_to_linear` once"),
    ("update", "`lora_B(lora_A(x))`, weights [r, in] and [out, r]",
     "`x @ A @ B`, A [in, r], B [r, out]"),
    ("trainable parameters", peft_count.trainable, ours_count.trainable),
    ("max logit difference with the same A, B", None, f"{side_diff:.1e}"),
], ["aspect", "PEFT", "chapter 04 (ftcourse)"]))

# %% [markdown]
# ## What the runs say

# %%
pt, lo = runs["prompt_tuning"].summary(), runs["lora"].summary()  # metrics and parameter counts
Markdown(
    f"On the `{PROFILE}` profile ({data.source}; {hf.describe('generation')}): prompt tuning "
    f"trained {pt['trainable']:,} parameters ({pt['trainable'] / count_parameters(base).total:.2%} "
    f"of the base model) and moved the held-out loss from {pt['eval_loss_before']:.2f} to "
    f"{pt['eval_loss_after']:.2f} (ROUGE-L {pt['rougeL']:.2f}); LoRA trained {lo['trainable']:,} "
    f"({lo['trainable'] / count_parameters(base).total:.2%}) and moved it from "
    f"{lo['eval_loss_before']:.2f} to {lo['eval_loss_after']:.2f} (ROUGE-L {lo['rougeL']:.2f}). "
    "A soft prompt can only steer what the frozen network already computes; LoRA changes the "
    "computation in every block, with more parameters. "
    + ("On ci the frozen network knows the world's facts as statements but has never seen a "
       "conversation: in these few epochs neither method learns the answer format fully (the "
       "answers above), and LoRA comes closer."
       if PROFILE == "ci" else "")
)

# %% [markdown]
# ## What we learned
#
# - PEFT puts any of its methods on any hub model with one call, `get_peft_model(model, config)`,
#   and `print_trainable_parameters` says what will train.
# - Prompt tuning learns only a few virtual-token embeddings; it can steer a frozen model but not
#   change what it computes. LoRA adds low-rank updates inside every block, with more parameters,
#   and fits better.
# - GPT-2 stores its projections [in, out] (`Conv1D`): LoRA must be told (`fan_in_fan_out=True`)
#   or the weights converted once; `c_proj` matches two layers per block.
# - An adapter saves as a few files and reloads onto a fresh base with identical outputs.
# - PEFT's LoRA and chapter 04's from-scratch LoRA are the same model given the same matrices.

# %% tags=["hide-input"]
# Records this page's metrics; on ci, checks them against the ranges a run that learns reaches.
measured = {"trainable_params/lora_from_scratch": ours_count.trainable,
            "max_logit_diff/reload_prompt_tuning": reload_diff["prompt_tuning"],
            "max_logit_diff/reload_lora": reload_diff["lora"],
            "max_logit_diff/side_by_side": side_diff,
            "max_logit_change/lora_update": adapter_effect}
path = results.record(
    "12_peft_library", measured, runs=list(runs.values()),
    data_source=f"{data.source}; model: {hf.describe('generation')}", seconds=timer.seconds,
    extra={"epochs": EPOCHS, "n_train": len(train_records), "lr_prompt": LR_PROMPT,
           "lr_lora": LR_LORA},
)
metrics = results.load("12_peft_library")["metrics"]
print("recorded", path.name)
assert ours_count.trainable == peft_count.trainable
if PROFILE == "ci":
    # Parameter counts are exact (20 x 64 = 1,280; LoRA r=8 on c_attn 64->192 and the two c_proj,
    # 64->64 and 256->64, in 2 blocks: 11,264). Measured with SEED 0 on the pre-trained stand-in:
    # held-out loss prompt tuning 4.87 -> 2.75, LoRA 5.60 -> 1.34 (ROUGE-L 0.16 and 0.25); reload
    # and side-by-side differences 0; the LoRA update moves the logits by up to 17.6. (From
    # random weights, LoRA reached only 8.69 -> 5.48.)
    results.check(metrics, {
        "trainable_params/prompt_tuning": (1280, 1280),
        "trainable_params/lora": (11264, 11264),
        "trainable_params/lora_from_scratch": (11264, 11264),
        "max_logit_diff/reload_prompt_tuning": (0.0, 1e-5),
        "max_logit_diff/reload_lora": (0.0, 1e-5),
        "max_logit_diff/side_by_side": (0.0, 1e-4),
        "max_logit_change/lora_update": (0.5, 1e3),
        "eval_loss_before/lora": (4.5, 7.0),
        "eval_loss_after/lora": (0.0, 2.5),
        "eval_loss_after/prompt_tuning": (0.0, 4.0),
        "rougeL/lora": (0.12, 1.0),
    })
    assert lo["eval_loss_after"] < pt["eval_loss_after"], (
        "LoRA, with more parameters, should fit better")
    assert lo["eval_loss_after"] < lo["eval_loss_before"] - 2, "LoRA must learn"
    assert pt["eval_loss_after"] < pt["eval_loss_before"] - 0.5, "prompt tuning must learn"
