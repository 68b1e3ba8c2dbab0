"""ftcourse.sft: the guanaco format, the completion-only label mask, generation and ROUGE."""

from __future__ import annotations

import json

import pytest

from ftcourse import corpora, sft
from ftcourse.corpora import instructions

pytest.importorskip("transformers", reason="the SFT tests need transformers (ftcourse[sft])")

CONVERSATION = (
    "### Human: What is a monopsony?### Assistant: A market with one buyer.\n\nFor example a mill town."
    "### Human: And an oligopsony?### Assistant: A market with a few buyers."
)


# ---------------------------------------------------------------------------------------------
# Format
def test_parse_format_round_trip():
    turns = sft.parse_guanaco(CONVERSATION)
    assert [role for role, _ in turns] == ["human", "assistant", "human", "assistant"]
    assert turns[1][1] == " A market with one buyer.\n\nFor example a mill town."
    assert sft.format_guanaco(turns) == CONVERSATION


def test_prompt_completion_round_trip():
    record = sft.to_prompt_completion(CONVERSATION)
    assert record["prompt"] + record["completion"] == CONVERSATION
    assert record["prompt"].endswith(sft.ASSISTANT)
    assert record["completion"] == " A market with a few buyers."


def test_trailing_question_without_reply_is_dropped():
    record = sft.to_prompt_completion(CONVERSATION + "### Human: Thanks! Any books?")
    assert record["prompt"] + record["completion"] == CONVERSATION


@pytest.mark.parametrize("bad", ["Hello there", "### Human: only a question", ""])
def test_bad_conversations_raise(bad):
    with pytest.raises(ValueError):
        sft.to_prompt_completion(bad)


def test_generated_instructions_follow_their_rules():
    texts = corpora.generate_instructions(60, seed=3)
    assert texts == corpora.generate_instructions(60, seed=3)
    assert texts != corpora.generate_instructions(60, seed=4)
    for text in texts:
        record = sft.to_prompt_completion(text)
        assert record["prompt"] + record["completion"] == text
        question = record["prompt"]
        answer = record["completion"].strip()
        if "capital of" in question:
            country = next(c for c in instructions.CAPITALS if c in question)
            assert answer == f"The capital of {country} is {instructions.CAPITALS[country]}."
        if "plus" in question or question.startswith("### Human: Add"):
            words = answer.rstrip(".").lower().split()
            a, b, c = (instructions.NUMBER_WORDS.index(w) for w in (words[0], words[2], words[4]))
            assert a + b == c


def test_make_prompt():
    assert sft.make_prompt(" What is 2? ") == "### Human: What is 2?### Assistant:"
    with pytest.raises(ValueError):
        sft.make_prompt("  ")


def test_fintech_toy_splits_into_instruction_and_answer():
    records = [sft.to_prompt_completion(sft.instruction_to_guanaco(t)) for t in sft.FINTECH_TOY]
    assert records[1] == {"prompt": "### Human: Explain KYC in one line.### Assistant:",
                          "completion": " KYC is the identity verification required by financial "
                                        "institutions."}
    assert sft.instruction_to_guanaco(sft.FINTECH_PROMPTS[1]) == sft.make_prompt(
        "Write a friendly one-line savings tip.")
    for bad in ("Answer: no instruction", "Instruction: no answer marker", "Instruction:\nAnswer: x"):
        with pytest.raises(ValueError, match="Instruction"):
            sft.instruction_to_guanaco(bad)


# ---------------------------------------------------------------------------------------------
# Loading
def write_jsonl(path, texts):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")


def test_load_guanaco_from_data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "openassistant-guanaco"
    write_jsonl(folder / "openassistant_best_replies_train.jsonl", [CONVERSATION, CONVERSATION + "### Human: Hi"])
    write_jsonl(folder / "openassistant_best_replies_eval.jsonl", ["### Human: Hi### Assistant: Hello!"])
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    data = sft.load_guanaco(profile="full")
    assert len(data.train) == 2 and data.eval == ["### Human: Hi### Assistant: Hello!"]
    assert data.prompt_completion("eval") == [{"prompt": "### Human: Hi### Assistant:", "completion": " Hello!"}]
    assert str(folder) in data.source


def test_load_guanaco_names_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="openassistant_best_replies_train.jsonl"):
        sft.load_guanaco(profile="full")


def test_read_guanaco_rejects_other_formats(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"prompt": "hi"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="x.jsonl:1"):
        sft.read_guanaco_jsonl(path)


def test_ci_data():
    data = sft.load_guanaco(profile="ci")
    assert (len(data.train), len(data.eval)) == sft.CI_SIZES
    assert not set(data.eval) <= set(data.train)  # the held-out set holds conversations not trained on


# ---------------------------------------------------------------------------------------------
# The label mask on real tokenizer output
@pytest.fixture(scope="module")
def tokenizers():
    from ftcourse.hf import train_tokenizer

    texts = corpora.generate_instructions(300, seed=0) + [CONVERSATION] * 5
    return {"bpe": train_tokenizer("gpt2", texts, vocab_size=400, cased=True),
            "wordpiece": train_tokenizer("bert", texts, vocab_size=400)}


@pytest.mark.parametrize("kind", ["bpe", "wordpiece"])
@pytest.mark.parametrize(
    "text", [CONVERSATION, "### Human: What is two plus six?### Assistant: Two plus six is eight."])
def test_label_mask_supervises_exactly_the_answer(tokenizers, kind, text):
    tokenizer = tokenizers[kind]
    record = sft.to_prompt_completion(text)
    example = sft.tokenize_prompt_completion(tokenizer, **record)
    ids, labels = example["input_ids"], example["labels"]
    first = next(i for i, y in enumerate(labels) if y != -100)
    # Nothing before `first` is supervised, everything from it on is, with its own id as label.
    assert all(y == -100 for y in labels[:first])
    assert labels[first:] == ids[first:]
    # The first supervised token is the first token of the answer ...
    assert tokenizer.convert_ids_to_tokens(ids[first]) == tokenizer.tokenize(record["completion"])[0]
    # ... and the unsupervised part is the prompt: its tokens, then only special tokens.
    prompt_tokens = tokenizer(record["prompt"], add_special_tokens=False)["input_ids"]
    unsupervised = [i for i in ids[:first] if i not in tokenizer.all_special_ids]
    assert unsupervised == prompt_tokens
    answer = tokenizer.decode(ids[first:], skip_special_tokens=True)
    expected = tokenizer.decode(tokenizer(record["completion"])["input_ids"], skip_special_tokens=True)
    assert answer.split() == expected.split()
    if kind == "bpe":
        assert ids[-1] == tokenizer.eos_token_id  # the model learns to stop


def test_response_template_trap_is_visible(tokenizers):
    """Searching "### Assistant:" in token space fails when the text around it merges with it."""
    tokenizer = tokenizers["bpe"]
    alone = tokenizer(" ### Assistant:", add_special_tokens=False)["input_ids"]
    in_context = tokenizer("a question?### Assistant: yes", add_special_tokens=False)["input_ids"]
    found = any(in_context[i:i + len(alone)] == alone for i in range(len(in_context)))
    assert not found  # the old collator would have masked every label of this example


@pytest.fixture(scope="module")
def tiny_opt(tokenizers):
    from transformers import AutoModelForCausalLM

    from ftcourse.hf import tiny_config

    tokenizer = tokenizers["bpe"]
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    config = tiny_config("opt", len(tokenizer), pad_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    return AutoModelForCausalLM.from_config(config)


def test_trl_builds_the_same_labels(tokenizers, tiny_opt, tmp_path):
    pytest.importorskip("trl", reason="SFTTrainer comes from trl (ftcourse[sft])")
    tokenizer = tokenizers["bpe"]
    records = [sft.to_prompt_completion(t) for t in corpora.generate_instructions(8, seed=0)]
    trainer = sft.make_sft_trainer(tiny_opt, tokenizer, records, records[:2], output_dir=tmp_path,
                                   max_length=64, disable_tqdm=True, shuffle_dataset=False)
    assert sft.dropped_examples(trainer, records, records[:2]) == {"train": 0, "eval": 0}
    assert not hasattr(trainer, "dropped_examples")
    for record, row in zip(records, trainer.train_dataset):
        ours = sft.tokenize_prompt_completion(tokenizer, **record)
        assert row["input_ids"] == ours["input_ids"]
        assert row["labels"] == ours["labels"]
    assert isinstance(trainer.data_collator, sft.CheckedCollator)


def test_truncated_away_completions_raise(tokenizers, tiny_opt, tmp_path):
    pytest.importorskip("trl", reason="SFTTrainer comes from trl (ftcourse[sft])")
    tokenizer = tokenizers["bpe"]
    records = [sft.to_prompt_completion(CONVERSATION)] * 3
    with pytest.raises(ValueError, match="no supervised token"):
        sft.make_sft_trainer(tiny_opt, tokenizer, records, output_dir=tmp_path, max_length=8, disable_tqdm=True)


def test_checks_fail_loudly_on_all_masked_labels():
    import torch

    with pytest.raises(ValueError, match="no supervised token"):
        sft.check_labels({"labels": [[-100, 5, 6], [-100, -100]]})
    assert sft.check_labels({"labels": [[-100, 5, 6], [-100, -100]]}, max_empty=1) == 1

    def collate(features):
        return {"labels": torch.tensor([f["labels"] for f in features])}

    checked = sft.CheckedCollator(collate)
    assert checked([{"labels": [-100, 3]}])["labels"].tolist() == [[-100, 3]]
    with pytest.raises(ValueError, match="no supervised token"):
        checked([{"labels": [-100, -100]}, {"labels": [-100, -100]}])


# ---------------------------------------------------------------------------------------------
# Generation and ROUGE
def test_generate_answer_stops_at_eos(tokenizers, tiny_opt, monkeypatch):
    import torch

    tokenizer = tokenizers["bpe"]
    prompt = sft.make_prompt("What is the capital of Peru?")
    encoded = tokenizer(prompt, return_tensors="pt")
    sequence = encoded["input_ids"]
    tiny_opt.eval()
    with torch.no_grad():  # greedy decoding by hand, with no end-of-sequence token at all
        for _ in range(12):
            next_id = tiny_opt(input_ids=sequence).logits[:, -1].argmax(-1, keepdim=True)
            sequence = torch.cat([sequence, next_id], dim=-1)
    new = sequence[0, encoded["input_ids"].shape[1]:].tolist()
    stop_at = next((k for k in range(1, len(new)) if new[k] not in new[:k]), 0)
    eos = new[stop_at]  # pretend this token is the end of sequence
    lengths = []
    generate = tiny_opt.generate

    def spy(*args, **kwargs):
        out = generate(*args, **kwargs)
        lengths.append(out.shape[1] - encoded["input_ids"].shape[1])
        return out

    monkeypatch.setattr(tiny_opt, "generate", spy)
    answer = sft.generate_answer(tiny_opt, tokenizer, prompt, max_new_tokens=12, eos_token_id=eos)
    assert lengths == [stop_at + 1]  # generation stopped at the end-of-sequence token
    expected = tokenizer.decode(new[:stop_at], skip_special_tokens=True).split("###")[0].strip()
    assert answer == expected


def test_generate_answer_keeps_the_end_of_a_prompt_longer_than_the_context(tokenizers):
    import torch
    from transformers import AutoModelForCausalLM

    from ftcourse.hf import tiny_config

    tokenizer = tokenizers["bpe"]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config("gpt2", len(tokenizer), n_positions=32))
    prompt = sft.make_prompt("What is the capital of Peru? " * 20)
    assert len(tokenizer(prompt)["input_ids"]) > 32  # an embedding lookup past position 31 would fail
    answer = sft.generate_answer(model, tokenizer, prompt, max_new_tokens=8)
    room = 32 - 8
    tail = tokenizer.decode(tokenizer(prompt)["input_ids"][-room:])
    assert answer == sft.generate_answer(model, tokenizer, tail, max_new_tokens=8)  # only the end was read
    with pytest.raises(ValueError, match="lower max_new_tokens"):
        sft.generate_answer(model, tokenizer, prompt, max_new_tokens=32)


def test_rouge():
    same = sft.rouge(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert same == pytest.approx({"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0})
    none = sft.rouge(["dogs bark loudly"], ["the cat sat"])
    assert none == pytest.approx({"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0})
    part = sft.rouge(["the cat sat"], ["the cat sat on the mat"])
    assert 0 < part["rouge2"] < part["rouge1"] < 1
    with pytest.raises(ValueError):
        sft.rouge(["a"], [])


def test_an_interrupted_run_resumes_from_its_last_epoch(tokenizers, tmp_path):
    """Chapter 11 on Colab: a dropped session loses at most the epoch in progress."""
    pytest.importorskip("trl", reason="SFTTrainer comes from trl (ftcourse[sft])")
    import torch
    from transformers import AutoModelForCausalLM

    from ftcourse.hf import tiny_config, train_resumable

    tokenizer = tokenizers["bpe"]
    records = [sft.to_prompt_completion(t) for t in corpora.generate_instructions(16, seed=0)]

    def trainer(epochs):
        torch.manual_seed(0)
        config = tiny_config("opt", len(tokenizer), pad_token_id=tokenizer.eos_token_id,
                             bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
        return sft.make_sft_trainer(AutoModelForCausalLM.from_config(config), tokenizer, records,
                                    output_dir=tmp_path, epochs=epochs, batch_size=4, max_length=64,
                                    save_strategy="epoch", disable_tqdm=True)

    first = train_resumable(trainer(1))  # the session that was cut after its first epoch
    assert first.global_step == 4 and (tmp_path / "checkpoint-4").is_dir()
    from transformers import TrainerCallback

    class CountSteps(TrainerCallback):
        steps = 0

        def on_step_end(self, args, state, control, **kwargs):
            CountSteps.steps += 1

    again = trainer(2)
    again.add_callback(CountSteps())
    resumed = train_resumable(again)  # the same cell, run again: epoch 2 only
    assert resumed.global_step == 8 and CountSteps.steps == 4  # 4 steps trained, not 8
    logged_epochs = [round(entry["epoch"]) for entry in again.state.log_history if "loss" in entry]
    assert logged_epochs == [1, 2]  # epoch 1's loss comes from the checkpoint's history
    assert (tmp_path / "checkpoint-8").is_dir()


def test_train_and_measure_records_a_learning_run(tokenizers, tmp_path):
    pytest.importorskip("trl", reason="SFTTrainer comes from trl (ftcourse[sft])")
    pytest.importorskip("rouge_score", reason="ROUGE comes from rouge-score (ftcourse[nlp-eval])")
    from transformers import AutoModelForCausalLM

    from ftcourse.hf import tiny_config

    tokenizer = tokenizers["bpe"]
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config(
        "opt", len(tokenizer), pad_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id))
    records = [sft.to_prompt_completion(t) for t in corpora.generate_instructions(40, seed=0)]
    run, answers = sft.train_and_measure(
        "tiny", model, tokenizer, records[:32], records[32:], output_dir=tmp_path, max_new_tokens=4,
        epochs=2, lr=3e-3, batch_size=8, max_length=64, disable_tqdm=True, report_to=[])
    assert run.name == "tiny" and len(answers) == 8
    assert run.metrics["eval_loss_after"] < run.metrics["eval_loss_before"] - 0.5
    assert set(run.metrics) >= {"rouge1", "rouge2", "rougeL"}
    assert run.trainable == run.total == sum(p.numel() for p in model.parameters())
    quick, none = sft.train_and_measure("quick", model, tokenizer, records[:8], records[32:], answers=False,
                                        output_dir=tmp_path / "quick", max_length=64, disable_tqdm=True,
                                        report_to=[])
    assert none == [] and set(quick.metrics) == {"eval_loss_before", "eval_loss_after"}
    with pytest.raises(ValueError, match="held-out"):
        sft.train_and_measure("none", model, tokenizer, records, [], output_dir=tmp_path)
