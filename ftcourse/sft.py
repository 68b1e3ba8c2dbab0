"""Supervised fine-tuning (SFT) of a causal language model as an assistant, with TRL (chapters 11-12).

The data are conversations in the openassistant-guanaco format, `### Human: ...### Assistant: ...`.
Each becomes a *prompt* (everything up to and including the last `### Assistant:`) and a
*completion* (that last reply). TRL's `SFTTrainer` tokenizes such a prompt/completion dataset,
appends the end-of-sequence token to the completion and sets the label of every prompt token to
-100, so the loss is computed on the assistant's words only (completion-only loss, its default for
this dataset shape). This replaces `DataCollatorForCompletionOnlyLM`, which TRL removed: that
collator searched for the response template in token space and, when the tokenizer split it
differently in context, silently masked every label (loss 0.0, nothing learnt). Here a batch
with no supervised token raises (`CheckedCollator`, `check_labels`).

On `ci` the conversations are generated (`ftcourse.corpora.generate_instructions`): templated questions with a
real structure (facts from fixed tables, arithmetic, word transforms), so a tiny model learns
something measurable in seconds. On `full` they are timdettmers/openassistant-guanaco from the
hub, or its two jsonl files from `FTCOURSE_DATA_DIR`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ftcourse import corpora
from ftcourse._env import data_dir, training_precision
from ftcourse._env import profile as active_profile
from ftcourse.corpora.instructions import ASSISTANT, HUMAN

GUANACO_HUB = "timdettmers/openassistant-guanaco"
GUANACO_FOLDER = "openassistant-guanaco"
GUANACO_FILES = {"train": "openassistant_best_replies_train.jsonl", "eval": "openassistant_best_replies_eval.jsonl"}
CI_SIZES = (600, 60)  # generated training and held-out conversations on the ci profile


# ---------------------------------------------------------------------------------------------
# The guanaco format
def parse_guanaco(text: str) -> list[tuple[str, str]]:
    """Split a guanaco conversation into turns: [("human", text), ("assistant", text), ...].

    Each turn's text is kept exactly (leading space, inner newlines), so `format_guanaco` gives
    the original back. Raises when the text does not start with `### Human:`.
    """
    if not isinstance(text, str) or not text.startswith(HUMAN):
        raise ValueError(f"a guanaco conversation starts with {HUMAN!r}; got {str(text)[:60]!r}")
    turns: list[tuple[str, str]] = []
    rest, role = text, None
    while rest:
        marker = HUMAN if rest.startswith(HUMAN) else ASSISTANT if rest.startswith(ASSISTANT) else None
        if marker is None:  # cannot happen: every cut below lands on a marker
            raise ValueError(f"unexpected text {rest[:40]!r}")
        role = "human" if marker == HUMAN else "assistant"
        rest = rest[len(marker):]
        cuts = [i for i in (rest.find(HUMAN), rest.find(ASSISTANT)) if i >= 0]
        end = min(cuts) if cuts else len(rest)
        turns.append((role, rest[:end]))
        rest = rest[end:]
    return turns


def format_guanaco(turns: Iterable[tuple[str, str]]) -> str:
    """The guanaco text of a list of (role, text) turns: the inverse of `parse_guanaco`."""
    markers = {"human": HUMAN, "assistant": ASSISTANT}
    parts = []
    for role, content in turns:
        if role not in markers:
            raise ValueError(f"a turn's role is 'human' or 'assistant', got {role!r}")
        parts.append(markers[role] + content)
    return "".join(parts)


def to_prompt_completion(text: str) -> dict[str, str]:
    """{"prompt", "completion"} for one guanaco conversation: the completion is the last assistant
    reply; the prompt is everything before it, ending with `### Assistant:`.

    A trailing human turn with no reply is dropped (nothing to learn from it); earlier assistant
    replies stay in the prompt as context, unsupervised. `prompt + completion` is the
    conversation up to that last reply, character for character.
    """
    turns = parse_guanaco(text)
    while turns and turns[-1][0] == "human":
        turns.pop()
    if not turns or not turns[-1][1].strip():
        raise ValueError(f"the conversation holds no assistant reply: {text[:80]!r}")
    reply = turns[-1][1]
    return {"prompt": format_guanaco(turns[:-1]) + ASSISTANT, "completion": reply}


def make_prompt(question: str) -> str:
    """The prompt for a new question, in the format the model was fine-tuned on."""
    question = question.strip()
    if not question:
        raise ValueError("the question is empty")
    return f"{HUMAN} {question}{ASSISTANT}"


# Seed 001's toy SFT data for a fintech assistant (its section 8), in its own
# "Instruction: ...\nAnswer: ..." format, and the two prompts it generates from.
FINTECH_TOY = (
    "Instruction: Summarize the benefit of automatic savings.\n"
    "Answer: It helps users build funds effortlessly over time.",
    "Instruction: Explain KYC in one line.\n"
    "Answer: KYC is the identity verification required by financial institutions.",
    "Instruction: Write a friendly reminder about overdraft fees.\n"
    "Answer: Remember to maintain your balance to avoid overdraft fees.",
)
FINTECH_PROMPTS = (
    "Write a one-sentence product description for a fintech savings app:",
    "Instruction: Write a friendly one-line savings tip.\nAnswer:",
)


def instruction_to_guanaco(text: str) -> str:
    """An "Instruction: ...\nAnswer: ..." text (seed 001's toy format) as a guanaco conversation,
    so the same prompt/completion split applies to it (chapter 11)."""
    head, sep, answer = text.partition("\nAnswer:")
    if not sep or not head.startswith("Instruction:"):
        raise ValueError(f"expected 'Instruction: ...\\nAnswer: ...', got {text[:80]!r}")
    instruction = head.removeprefix("Instruction:").strip()
    if not instruction:
        raise ValueError(f"the instruction is empty: {text[:80]!r}")
    return f"{HUMAN} {instruction}{ASSISTANT}" + (f" {answer.strip()}" if answer.strip() else "")


# ---------------------------------------------------------------------------------------------
# Loading
@dataclass
class SFTData:
    """Conversations as guanaco texts, train and held-out, and where they came from."""

    train: list[str]
    eval: list[str]
    source: str

    def prompt_completion(self, split: str) -> list[dict[str, str]]:
        """The split as {"prompt", "completion"} records (see `to_prompt_completion`)."""
        texts = {"train": self.train, "eval": self.eval}[split]
        return [to_prompt_completion(t) for t in texts]


def read_guanaco_jsonl(path: str | Path) -> list[str]:
    """The "text" of each line of an openassistant-guanaco jsonl file, checked for the format."""
    path = Path(path)
    texts = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not a JSON line ({err})") from err
            text = record.get("text") if isinstance(record, dict) else None
            if not isinstance(text, str) or not text.startswith(HUMAN):
                raise ValueError(f"{path}:{number}: expected {{\"text\": \"{HUMAN} ...\"}}, got {line[:80]!r}")
            texts.append(text)
    if not texts:
        raise ValueError(f"{path} holds no conversations")
    return texts


def load_guanaco(profile: str | None = None) -> SFTData:
    """openassistant-guanaco (train 9,846 and eval 518 conversations) for the profile (chapter 11).

    ci: generated conversations (`corpora.generate_instructions`); full: the jsonl files in
    `FTCOURSE_DATA_DIR/openassistant-guanaco/` when that is set, else the hub dataset.
    """
    if active_profile(profile) == "ci":
        n_train, n_eval = CI_SIZES
        return SFTData(corpora.generate_instructions(n_train, 0), corpora.generate_instructions(n_eval, 1),
                       "generated instruction pairs (ci profile, seeds 0 and 1)")
    root = data_dir()
    if root is not None:
        folder = root / GUANACO_FOLDER
        paths = {split: folder / name for split, name in GUANACO_FILES.items()}
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{', '.join(missing)} not found (FTCOURSE_DATA_DIR). Copy the two jsonl files of "
                f"{GUANACO_HUB} there, unset FTCOURSE_DATA_DIR to download, or set FTCOURSE_PROFILE=ci."
            )
        return SFTData(read_guanaco_jsonl(paths["train"]), read_guanaco_jsonl(paths["eval"]), str(folder))
    from ftcourse.hub import load_hub_dataset

    hub = load_hub_dataset(GUANACO_HUB)
    return SFTData(list(hub["train"]["text"]), list(hub["test"]["text"]), f"hub: {GUANACO_HUB}")


# ---------------------------------------------------------------------------------------------
# Labels: what the loss sees
def tokenize_prompt_completion(tokenizer, prompt: str, completion: str, add_eos: bool = True) -> dict[str, list[int]]:
    """input_ids and labels for one example, as TRL's SFTTrainer builds them for a
    prompt/completion dataset: the completion gets the EOS token appended, the ids are those of
    prompt + completion tokenized together, and every token of the common prefix with the
    prompt alone is labelled -100 (ignored by the loss)."""
    if add_eos and tokenizer.eos_token and not completion.endswith(tokenizer.eos_token):
        completion = completion + tokenizer.eos_token
    prompt_ids = tokenizer(prompt)["input_ids"]
    ids = tokenizer(prompt + completion)["input_ids"]
    start = 0
    while start < min(len(prompt_ids), len(ids)) and prompt_ids[start] == ids[start]:
        start += 1
    return {"input_ids": ids, "labels": [-100] * start + ids[start:]}


def label_table(tokenizer, example: dict) -> list[tuple[str, int | str]]:
    """(token, label) for each position of a tokenized example; "-100" marks an ignored token."""
    return [(tokenizer.convert_ids_to_tokens(int(i)), "-100" if int(y) == -100 else int(y))
            for i, y in zip(example["input_ids"], example["labels"])]


def check_labels(dataset, max_empty: int = 0) -> int:
    """Count the examples of a tokenized dataset (a "labels" column) with no supervised token, and
    raise when there are more than `max_empty`: their loss would be nothing, silently."""
    empty = [i for i, labels in enumerate(dataset["labels"]) if all(y == -100 for y in labels)]
    if len(empty) > max_empty:
        raise ValueError(
            f"{len(empty)} of {len(dataset)} examples have no supervised token (every label is -100), "
            f"e.g. example {empty[0]}. The prompt/completion split is wrong, or truncation cut the "
            "completion off: check the prompt format, or raise max_length."
        )
    return len(empty)


class CheckedCollator:
    """Wraps a collator and raises when a batch has no supervised token (all labels -100).

    Without it such a batch trains on nothing and the logged loss can read 0.0 with no error.
    """

    def __init__(self, collator) -> None:
        self.collator = collator

    def __call__(self, features):
        batch = self.collator(features)
        if not bool((batch["labels"] != -100).any()):
            raise ValueError(
                f"a batch of {len(features)} examples has no supervised token: every label is -100. "
                "The completion mask is empty (wrong prompt/completion split, or the completion was "
                "truncated away): inspect the labels with ftcourse.sft.label_table."
            )
        return batch


def make_sft_trainer(model, tokenizer, train, eval=None, *, output_dir: str | Path, epochs: float = 1,
                     lr: float = 2e-5, batch_size: int = 2, max_length: int | None = 1024, seed: int = 0,
                     max_dropped: float = 0.0, **config):
    """An SFTTrainer for a prompt/completion dataset with completion-only loss and checked labels.

    `train`/`eval` are lists of {"prompt", "completion"} or `datasets.Dataset`s. Defaults are the
    source's (lr 2e-5, batch 2, 1,024 tokens); `config` goes to `SFTConfig`. Precision from
    `ftcourse.training_precision` (bf16 natively, fp16 on a T4, fp32 on CPU); no activation
    (gradient) checkpointing, which SFTConfig turns on by default (the source models are small).

    TRL drops the examples that truncation to `max_length` leaves with no supervised token; more
    than a share `max_dropped` of a split dropped raises (none by default). The counts:
    `dropped_examples(trainer, train, eval)`.
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from ftcourse.hf import training_config

    def as_dataset(records):
        return records if records is None or isinstance(records, Dataset) else Dataset.from_list(list(records))

    settings = dict(
        output_dir=str(output_dir), num_train_epochs=epochs, learning_rate=lr,
        per_device_train_batch_size=batch_size, per_device_eval_batch_size=batch_size,
        max_length=max_length, completion_only_loss=True, seed=seed, data_seed=seed,
        **training_precision().trainer_flags(), activation_checkpointing=False,
        eval_strategy="epoch" if eval is not None else "no", save_strategy="no", report_to="none",
        logging_strategy="epoch", disable_tqdm=False, dataset_num_proc=None,
    )
    settings.update(config)
    if tokenizer.pad_token is None:  # GPT-2 has none; padded positions get label -100 anyway
        tokenizer.pad_token = tokenizer.eos_token
    collator = CheckedCollator(DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id))
    trainer = SFTTrainer(model=model, args=training_config(SFTConfig, **settings), data_collator=collator,
                         train_dataset=as_dataset(train), eval_dataset=as_dataset(eval),
                         processing_class=tokenizer)
    dropped_counts = dropped_examples(trainer, train, eval)
    for split, given, kept in (("train", train, trainer.train_dataset), ("eval", eval, trainer.eval_dataset)):
        if given is None:
            continue
        check_labels(kept)
        dropped = dropped_counts[split]
        if dropped > max_dropped * len(given):
            raise ValueError(
                f"{dropped} of {len(given)} {split} examples had no supervised token left after truncation "
                f"to max_length={max_length} (TRL drops them). Raise max_length, shorten the prompts, or "
                "allow a share with max_dropped=."
            )
    return trainer


def train_and_measure(name: str, model, tokenizer, train, eval, *, output_dir: str | Path,
                      max_new_tokens: int = 40, seed: int = 0, answers: bool = True, **settings):
    """One short SFT run measured as chapters 12 and 17 compare PEFT methods: the held-out loss on
    the answers before and after training, ROUGE of the held-out answers against their references
    (when `answers`; generating them is the slow part), the trainable parameters and the seconds.
    Returns `(experiment.Run, held-out answers)`; `settings` go to `make_sft_trainer`."""
    import time

    from ftcourse.adapt import count_parameters
    from ftcourse.experiment import Run

    if not eval:
        raise ValueError("train_and_measure needs held-out records (`eval`) to measure on")
    trainer = make_sft_trainer(model, tokenizer, train, eval, output_dir=output_dir, seed=seed,
                               **settings)
    before = trainer.evaluate()["eval_loss"]
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    after = trainer.evaluate()["eval_loss"]
    held_out, scores = [], {}
    if answers:
        held_out = generate_answers(model, tokenizer, [r["prompt"] for r in eval], max_new_tokens)
        scores = rouge(held_out, [r["completion"].strip() for r in eval])
    counts = count_parameters(model)
    run = Run(name, {"eval_loss_before": before, "eval_loss_after": after, **scores},
              trainable=counts.trainable, total=counts.total, seconds=seconds, seed=seed)
    return run, held_out


def dropped_examples(trainer, train, eval=None) -> dict[str, int]:
    """How many examples of each split given to `make_sft_trainer` (`train`, `eval`) TRL dropped
    because truncation left them no supervised token: {"train": n, "eval": n} (chapter 11)."""
    counts = {"train": len(train) - len(trainer.train_dataset)}
    if eval is not None:
        counts["eval"] = len(eval) - len(trainer.eval_dataset)
    return counts


# ---------------------------------------------------------------------------------------------
# Generation and ROUGE
def generate_answer(model, tokenizer, prompt: str, max_new_tokens: int = 40, eos_token_id: int | None = None) -> str:
    """Greedy answer to one prompt: stops at the end-of-sequence token (or after `max_new_tokens`),
    returns only the new text, cut at a following `###` turn marker if the model starts one.
    A prompt longer than the model's context (less `max_new_tokens`) keeps its end, where the
    turn to answer is."""
    import torch

    eos = tokenizer.eos_token_id if eos_token_id is None else eos_token_id
    encoded = tokenizer(prompt, return_tensors="pt")
    config = model.config
    context = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    if context is not None:
        room = context - max_new_tokens
        if room < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for the prompt in the model's "
                             f"context of {context} tokens; lower max_new_tokens")
        encoded = {key: value[:, -room:] for key, value in encoded.items()}
    encoded = {key: value.to(model.device) for key, value in encoded.items()}
    model.eval()
    with torch.no_grad():
        out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                             pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos)
    new = out[0, encoded["input_ids"].shape[1]:].tolist()
    if eos in new:
        new = new[: new.index(eos)]
    text = tokenizer.decode(new, skip_special_tokens=True)
    return text.split("###")[0].strip()


def generate_answers(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 40) -> list[str]:
    """`generate_answer` for each prompt (one at a time: no padding rules to get wrong)."""
    from ftcourse.train import tqdm

    return [generate_answer(model, tokenizer, p, max_new_tokens)
            for p in tqdm(list(prompts), desc="generate", mininterval=1.0, leave=False)]


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 (rouge-score, offline, with stemming), in [0, 1]."""
    from rouge_score import rouge_scorer

    if len(predictions) != len(references) or not predictions:
        raise ValueError(f"need as many predictions as references (>0); got {len(predictions)} and {len(references)}")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for p, r in zip(predictions, references):
        for key, score in scorer.score(r, p).items():
            totals[key] += score.fmeasure
    return {key: value / len(predictions) for key, value in totals.items()}


__all__ = [
    "ASSISTANT",
    "HUMAN",
    "CheckedCollator",
    "FINTECH_PROMPTS",
    "FINTECH_TOY",
    "SFTData",
    "check_labels",
    "dropped_examples",
    "format_guanaco",
    "generate_answer",
    "instruction_to_guanaco",
    "generate_answers",
    "label_table",
    "load_guanaco",
    "make_prompt",
    "make_sft_trainer",
    "parse_guanaco",
    "read_guanaco_jsonl",
    "rouge",
    "to_prompt_completion",
    "train_and_measure",
    "tokenize_prompt_completion",
]
