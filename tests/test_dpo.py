"""DPO from scratch (ftcourse.dpo, chapter 16): its invariants, and parity with TRL's DPOTrainer."""

from __future__ import annotations

import copy
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers", reason="the DPO tests use tiny transformers models (ftcourse[sft])")

from ftcourse import corpora, dpo, hf, preferences, sft  # noqa: E402

# Same fp32 computation on both sides; only the order of float sums differs.
PARITY_TOLERANCE = 1e-5


def tiny(seed: int, **settings):
    """The ci stand-in of chapter 11's model, with random weights and no dropout (so two forwards agree)."""
    return hf.load_model("sft", profile="ci", seed=seed, pretrained=False, dropout=0.0, attention_dropout=0.0,
                         **settings).eval()


@pytest.fixture(scope="module")
def tokenizer():
    return hf.load_tokenizer("sft", profile="ci")


@pytest.fixture(scope="module")
def pairs(tokenizer):
    return [dpo.tokenize_pair(tokenizer, p["prompt"], p["chosen"], p["rejected"])
            for p in preferences.generate_preferences(12, 0)]


class FixedLogits(torch.nn.Module):
    """A stand-in causal LM whose logits are given: lets a test change what one position predicts."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None, use_cache=None):
        return type("Out", (), {"logits": self.logits})()


def test_prompt_tokens_contribute_nothing(tokenizer, pairs):
    batch = dpo.collate_pairs(pairs[:2], tokenizer.pad_token_id)
    ids, mask = batch["input_ids"], batch["completion_mask"]
    logits = torch.randn(*ids.shape, len(tokenizer), generator=torch.Generator().manual_seed(0))
    base = dpo.sequence_logprobs(FixedLogits(logits), ids, batch["attention_mask"], mask)
    # position t predicts token t+1: change every prediction of a prompt token (or of padding)
    unsupervised = mask[:, 1:] == 0
    changed = logits.clone()
    changed[:, :-1][unsupervised] += 50 * torch.randn_like(changed[:, :-1][unsupervised])
    same = dpo.sequence_logprobs(FixedLogits(changed), ids, batch["attention_mask"], mask)
    torch.testing.assert_close(same, base)
    # the same change moves the unmasked sum, and a change on an answer token moves the masked one
    assert not torch.allclose(dpo.sequence_logprobs(FixedLogits(changed), ids, batch["attention_mask"]),
                              dpo.sequence_logprobs(FixedLogits(logits), ids, batch["attention_mask"]))
    answer = changed.clone()
    row, col = (mask[:, 1:] == 1).nonzero()[0].tolist()
    other = (int(ids[row, col + 1]) + 1) % logits.shape[-1]  # a token other than the one to predict
    answer[row, col, other] += 50
    assert not torch.allclose(dpo.sequence_logprobs(FixedLogits(answer), ids, batch["attention_mask"], mask), base)


def test_sequence_logprob_is_the_sum_of_answer_token_logprobs(tokenizer):
    model = tiny(0)
    pair = dpo.tokenize_pair(tokenizer, "### Human: Hi?### Assistant:", " Hello there.", " Go away.")
    batch = dpo.collate_pairs([pair], tokenizer.pad_token_id)
    with torch.no_grad():
        chosen, _ = dpo.pair_logprobs(model, batch)
        ids = torch.tensor([pair["prompt_ids"] + pair["chosen_ids"]])
        logps = torch.log_softmax(model(input_ids=ids).logits[0], -1)
    start = len(pair["prompt_ids"])
    expected = sum(float(logps[t - 1, ids[0, t]]) for t in range(start, ids.shape[1]))
    assert float(chosen[0]) == pytest.approx(expected, abs=1e-4)
    assert pair["chosen_ids"][-1] == tokenizer.eos_token_id  # the answer ends with EOS, supervised


def test_loss_is_log_two_when_policy_equals_reference(tokenizer, pairs):
    reference = dpo.freeze_reference(tiny(0))
    policy = copy.deepcopy(reference)
    batch = dpo.collate_pairs(pairs, tokenizer.pad_token_id)
    with torch.no_grad():
        loss, chosen, rejected = dpo.dpo_loss(*dpo.pair_logprobs(policy, batch), *dpo.pair_logprobs(reference, batch))
    assert float(loss) == pytest.approx(math.log(2), abs=1e-6)
    assert float(chosen.abs().max()) == 0 and float(rejected.abs().max()) == 0


def test_beta_scales_rewards_not_log_ratios(tokenizer, pairs):
    batch = dpo.collate_pairs(pairs, tokenizer.pad_token_id)
    with torch.no_grad():
        logps = (*dpo.pair_logprobs(tiny(0), batch), *dpo.pair_logprobs(tiny(1), batch))
    loss1, c1, r1 = dpo.dpo_loss(*logps, beta=0.1)
    loss2, c2, r2 = dpo.dpo_loss(*logps, beta=0.5)
    torch.testing.assert_close(c2, 5 * c1)
    torch.testing.assert_close(r2, 5 * r1)
    assert float(c1.abs().max()) > 0 and float(loss1) != pytest.approx(float(loss2))
    with pytest.raises(ValueError, match="beta must be > 0"):
        dpo.dpo_loss(*logps, beta=0)


def test_training_keeps_the_reference_frozen_and_raises_the_margin(tokenizer):
    data = [dpo.tokenize_pair(tokenizer, p["prompt"], p["chosen"], p["rejected"])
            for p in preferences.generate_preferences(32, 0)]
    policy = tiny(0)
    reference = dpo.freeze_reference(copy.deepcopy(policy))
    before = {k: v.clone() for k, v in reference.state_dict().items()}
    start = {k: v.clone() for k, v in policy.state_dict().items()}
    history = dpo.train_dpo(policy, reference, data, pad_token_id=tokenizer.pad_token_id, beta=0.5, lr=3e-3,
                            epochs=3, batch_size=8, progress=False)
    assert all(torch.equal(before[k], v) for k, v in reference.state_dict().items())
    assert not all(torch.equal(start[k], v) for k, v in policy.state_dict().items())
    assert not reference.training and not any(p.requires_grad for p in reference.parameters())
    assert history.loss[0] == pytest.approx(math.log(2), abs=1e-5)
    after = dpo.evaluate_preferences(policy, reference, dpo.batches(data, 8, tokenizer.pad_token_id), beta=0.5)
    assert after.margin > 0.5 and after.ranked_right > 0.8 and after.loss < math.log(2)


def test_check_reference_refuses_a_reference_that_can_move():
    policy = tiny(0)
    with pytest.raises(ValueError, match="is the policy itself"):
        dpo.check_reference(policy, policy)
    with pytest.raises(ValueError, match="trainable"):
        dpo.check_reference(policy, tiny(0))
    reference = tiny(0).requires_grad_(False).train()
    with pytest.raises(ValueError, match="training mode"):
        dpo.check_reference(policy, reference)
    shared = dpo.freeze_reference(tiny(0))
    shared.lm_head = policy.lm_head  # a view into the policy's weights
    with pytest.raises(ValueError, match="shares"):
        dpo.check_reference(policy, shared)
    dpo.check_reference(policy, dpo.freeze_reference(tiny(0)))


def test_collate_pairs_layout_and_errors():
    features = [{"prompt_ids": [1, 2, 3], "chosen_ids": [4, 5], "rejected_ids": [6]},
                {"prompt_ids": [7, 8], "chosen_ids": [9], "rejected_ids": [10, 11]}]
    batch = dpo.collate_pairs(features, pad_token_id=0)
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4, 5], [7, 8, 9, 0, 0], [1, 2, 3, 6, 0], [7, 8, 10, 11, 0]]
    assert batch["completion_mask"].tolist() == [[0, 0, 0, 1, 1], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 1, 1, 0]]
    assert batch["attention_mask"].tolist() == [[1] * 5, [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 0]]
    with pytest.raises(ValueError, match="pad_token"):
        dpo.collate_pairs(features, pad_token_id=None)
    with pytest.raises(ValueError, match="max_length"):
        dpo.collate_pairs(features, pad_token_id=0, max_length=2)
    with pytest.raises(ValueError, match="none empty"):
        dpo.tokenize_pair(None, "### Human: x### Assistant:", "", " no")


def test_generated_preferences_have_a_learnable_rule():
    train, again = preferences.generate_preferences(300, 0), preferences.generate_preferences(300, 0)
    assert train == again and train != preferences.generate_preferences(300, 1)
    kinds = [p["kind"] for p in train]
    assert set(kinds) == set(preferences.KINDS) and 0.5 < kinds.count("wrong fact") / len(kinds) < 0.8
    for p in train:
        assert p["prompt"].startswith(sft.HUMAN) and p["prompt"].endswith(sft.ASSISTANT)
        assert p["chosen"] != p["rejected"]
        text = sft.to_prompt_completion(p["prompt"] + p["chosen"])  # chapter 11's format
        assert text["completion"] == p["chosen"]
    capitals = [p for p in train if "capital of" in p["prompt"] and p["kind"] == "wrong fact"]
    for p in capitals:
        country = p["chosen"].split()[3]
        capital = corpora.instructions.CAPITALS[country] + "."
        assert p["chosen"].endswith(capital) and not p["rejected"].endswith(capital)


def test_orca_rows_become_pairs_in_the_chat_format():
    pair = preferences.orca_pair({"system": "You are helpful.", "question": "Why is the sky blue?",
                                  "chosen": "Rayleigh scattering.", "rejected": "It is not."})
    assert pair["prompt"] == "### Human: You are helpful.\n\nWhy is the sky blue?### Assistant:"
    assert pair["chosen"] == " Rayleigh scattering." and pair["rejected"] == " It is not."
    assert preferences.orca_pair({"system": "", "question": "Q?", "chosen": "a", "rejected": "b"})["prompt"] == \
        "### Human: Q?### Assistant:"
    with pytest.raises(ValueError, match="question"):
        preferences.orca_pair({"system": "", "chosen": "a", "rejected": "b"})


def test_load_preferences_from_a_data_dir(tmp_path, monkeypatch):
    import json

    folder = tmp_path / "orca_dpo_pairs"
    folder.mkdir()
    rows = [{"system": "", "question": f"Question {i}?", "chosen": f"Good {i}.", "rejected": f"Bad {i}."}
            for i in range(preferences.FULL_EVAL + 20)]
    (folder / "orca_rlhf.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    data = preferences.load_preferences("full")
    assert len(data.train) == 20 and len(data.eval) == preferences.FULL_EVAL
    assert data.train[0]["chosen"] == " Good 0."
    (folder / "orca_rlhf.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="FTCOURSE_PROFILE=ci"):
        preferences.load_preferences("full")


def test_same_batch_same_loss_and_rewards_as_trl(tokenizer):
    """TRL's DPOTrainer (current API) and ftcourse.dpo on the same pairs: the same token ids, mask,
    loss, chosen/rejected rewards, margin and ranked-right share, within PARITY_TOLERANCE."""
    pytest.importorskip("trl", reason="the parity check needs TRL's DPOTrainer (ftcourse[sft])")
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    # Weights drawn wider than the default, so the two models' log-probabilities differ clearly.
    policy, reference = tiny(0, init_std=0.2), dpo.freeze_reference(tiny(1, init_std=0.2))
    records = preferences.generate_preferences(8, 3)
    beta = 0.3
    config = hf.training_config(DPOConfig, output_dir="/tmp/ftcourse-dpo-parity", beta=beta,
                                per_device_train_batch_size=8, bf16=False, fp16=False, report_to="none",
                                max_length=None, activation_checkpointing=False, disable_tqdm=True)
    trainer = DPOTrainer(model=policy, ref_model=reference, args=config, processing_class=tokenizer,
                         train_dataset=Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")}
                                                          for r in records]))
    features = [trainer.train_dataset[i] for i in range(len(records))]
    theirs_batch = trainer.data_collator(features)
    ours_pairs = [dpo.tokenize_pair(tokenizer, r["prompt"], r["chosen"], r["rejected"]) for r in records]
    ours_batch = dpo.collate_pairs(ours_pairs, tokenizer.pad_token_id)
    for key, value in ours_batch.items():
        assert torch.equal(value, theirs_batch[key]), key
    trainer.model.eval()  # no dropout; TRL then logs its metrics under "eval"
    with torch.no_grad():
        their_loss = float(trainer.compute_loss(trainer.model, dict(theirs_batch)))
        logged = {k: v[-1] for k, v in trainer._metrics["eval"].items()}
        pc, pr = dpo.pair_logprobs(policy, ours_batch)
        rc, rr = dpo.pair_logprobs(reference, ours_batch)
        loss, chosen, rejected = dpo.dpo_loss(pc, pr, rc, rr, beta)
    assert abs(float((chosen - rejected).mean())) > 0.05  # a batch where the models disagree
    ours = {"loss": float(loss), "rewards/chosen": float(chosen.mean()), "rewards/rejected": float(rejected.mean()),
            "rewards/margins": float((chosen - rejected).mean()),
            "rewards/accuracies": float((chosen > rejected).float().mean()),
            "logps/chosen": float(pc.mean()), "logps/rejected": float(pr.mean())}
    theirs = {"loss": their_loss, **{k: logged[k] for k in ours if k != "loss"}}
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key], abs=PARITY_TOLERANCE), (key, ours[key], theirs[key])


def test_full_profile_reads_the_pinned_orca_standin(tmp_path):
    """On `full`, load_preferences asks the hub for Intel/orca_dpo_pairs at its pinned commit; the
    rehearsal's stand-in (real columns, that revision) served on loopback is read and split."""
    import json
    import os
    import subprocess
    import sys

    from ftcourse.rehearsal import standins
    from ftcourse.rehearsal.hub import serve_hub

    standins.build_orca_dpo(tmp_path / "hub", n=preferences.FULL_EVAL + 40)
    code = ("import json; from ftcourse import preferences as p; d = p.load_preferences(); "
            "print(json.dumps([len(d.train), len(d.eval), d.source, d.train[0]['prompt'][:11]]))")
    with serve_hub(tmp_path / "hub") as endpoint:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE") and k != "FTCOURSE_DATA_DIR"}
        env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "home"), FTCOURSE_PROFILE="full",
                   HF_HUB_DISABLE_PROGRESS_BARS="1")
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        40, preferences.FULL_EVAL, f"hub: {preferences.ORCA_HUB}@{preferences.ORCA_REVISION[:7]}", "### Human: "]


def test_frozen_copy_is_independent_of_a_patched_policy(tokenizer, pairs):
    """TRL's trainers set `forward` on the model instance to a function holding the original model:
    a deep copy then still computes with the policy's weights. frozen_copy does not; check_reference
    refuses the deep copy."""
    policy = tiny(0).train()
    original = policy.forward
    policy.forward = lambda *args, **kwargs: original(*args, **kwargs)  # what add_fused_lm_head does
    deep, fresh = dpo.freeze_reference(copy.deepcopy(policy)), dpo.frozen_copy(policy)
    with pytest.raises(ValueError, match="frozen_copy"):
        dpo.check_reference(policy, deep)
    dpo.check_reference(policy, fresh)
    batch = dpo.collate_pairs(pairs[:4], tokenizer.pad_token_id)
    with torch.no_grad():
        start = dpo.pair_logprobs(fresh, batch)[0]
        torch.testing.assert_close(dpo.pair_logprobs(policy.eval(), batch)[0], start)
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))
        moved = dpo.pair_logprobs(policy, batch)[0]
        assert not torch.allclose(moved, start)
        torch.testing.assert_close(dpo.pair_logprobs(deep, batch)[0], moved)  # the trap: it follows the policy
        torch.testing.assert_close(dpo.pair_logprobs(fresh, batch)[0], start)  # the fix: it stays
