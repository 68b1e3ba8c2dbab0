"""Bottleneck adapters meet the same invariants as LoRA: identity at insertion, only adapters
train, adapter-only files round-trip, bad targets raise."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ftcourse.adapt import count_parameters
from ftcourse.adapt.adapters import (
    Adapted,
    AdaptedLinear,
    BottleneckAdapter,
    FeatureAdapter,
    adapter_state_dict,
    add_adapters,
    add_bert_adapters,
    load_adapters,
    save_adapters,
)
from ftcourse.adapt.lora import apply_lora, save_lora
from ftcourse.models import EncoderClassifier, TransformerClassifier


def adapter_size(dim: int, bottleneck: int) -> int:
    return 2 * dim * bottleneck + dim + bottleneck


def tokens(vocab: int = 50, batch: int = 4, length: int = 9) -> torch.Tensor:
    x = torch.randint(2, vocab, (batch, length))
    x[0, 6:] = 1
    return x


def run(model: nn.Module, *args) -> torch.Tensor:
    with torch.no_grad():
        out = model(*args)
    return getattr(out, "last_hidden_state", getattr(out, "logits", out))


def perturb(model: nn.Module) -> None:
    """Give every up-projection non-zero weights, so the adapters change the output."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, BottleneckAdapter):
                module.up_project.weight.normal_(std=0.5)
                module.up_project.bias.normal_(std=0.5)


def seed_net() -> TransformerClassifier:
    """Seed 002's `Net` shape: 100-d vectors, 2 layers, 2 heads, feed-forward 128."""
    torch.manual_seed(0)
    return TransformerClassifier(torch.randn(50, 100), 2).eval()


def test_bottleneck_adapter_is_the_identity_at_first_and_counts_to_the_formula():
    for dim, bottleneck in [(100, 24), (128, 24), (768, 64)]:
        adapter = BottleneckAdapter(dim, bottleneck)
        assert sum(p.numel() for p in adapter.parameters()) == adapter_size(dim, bottleneck)
        x = torch.randn(3, 5, dim)
        assert torch.equal(adapter(x), x)
    assert FeatureAdapter is BottleneckAdapter and Adapted is AdaptedLinear
    assert isinstance(BottleneckAdapter(8, 2, activation="gelu").activation, nn.GELU)
    with pytest.raises(ValueError, match="activation"):
        BottleneckAdapter(8, 2, activation="swish")
    with pytest.raises(ValueError, match="positive"):
        BottleneckAdapter(8, 0)


def test_adapted_linear_keeps_the_seed_default_and_the_linear_output():
    linear = nn.Linear(100, 128)
    adapted = Adapted(linear)
    assert adapted.adapter.down_project.out_features == 64  # the seed's half of the output size
    assert adapted.out_features == 128 and adapted.weight is linear.weight
    x = torch.randn(2, 100)
    assert torch.equal(adapted(x), linear(x))
    with pytest.raises(TypeError, match="nn.Linear"):
        AdaptedLinear(nn.Conv2d(1, 1, 3))


def test_add_adapters_on_the_seed_net_counts_and_starts_equal():
    model = seed_net()
    x = tokens()
    expected = run(model, x)
    names = add_adapters(model, bottleneck=24, train_modules=("classifier",))
    assert names == [f"transformer_encoder.layers.{i}.linear{j}" for i in (0, 1) for j in (1, 2)]
    per_layer = adapter_size(128, 24) + adapter_size(100, 24)  # on linear1's and linear2's outputs
    assert count_parameters(model).trainable == 2 * per_layer + (100 * 2 + 2)
    torch.testing.assert_close(run(model, x), expected, atol=1e-6, rtol=0)


def test_eval_mode_runs_the_adapters():
    # nn.TransformerEncoderLayer's fused inference path reads linear1.weight directly and
    # would skip the wrapper: the output must move once the adapters are non-zero.
    model = seed_net()
    x = tokens()
    before = run(model, x)
    add_adapters(model)
    perturb(model)
    assert not torch.allclose(run(model, x), before, atol=1e-3)
    torch.testing.assert_close(run(model, x), model(x).detach(), atol=1e-6, rtol=0)


def test_only_adapters_and_head_change_in_training():
    model = seed_net()
    add_adapters(model, train_modules="classifier")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, y = tokens(), torch.tensor([0, 1, 1, 0])
    for step in range(2):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
        if step == 0:  # the up-projection starts at 0, so the down-projection waits a step
            changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
            assert any("up_project" in k for k in changed) and not any(
                "down_project" in k for k in changed
            )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".adapter." in n or n.startswith("classifier.") for n in trainable)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]) != (name in trainable), name


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_save_and_load_into_a_fresh_base_round_trips(tmp_path, suffix):
    model = seed_net()
    fresh = copy.deepcopy(model)
    add_adapters(model, bottleneck=12, activation="gelu", train_modules="classifier")
    perturb(model)
    path = save_adapters(model, tmp_path / f"adapters{suffix}", include="classifier")
    state = adapter_state_dict(model, include="classifier")
    assert (
        all(".adapter." in k or k.startswith("classifier.") for k in state)
        and len(state) == 4 * 4 + 2
    )
    assert load_adapters(fresh, path) == [
        n for n, m in model.named_modules() if isinstance(m, AdaptedLinear)
    ]
    x = tokens()
    torch.testing.assert_close(run(fresh, x), run(model, x), atol=0, rtol=0)
    assert count_parameters(fresh).trainable == 0
    assert isinstance(fresh.transformer_encoder.layers[0].linear1.adapter.activation, nn.GELU)
    load_adapters(fresh, path, trainable=True)
    assert count_parameters(fresh).trainable == count_parameters(model).trainable


def test_bad_requests_raise_with_the_fix(tmp_path):
    model = seed_net()
    with pytest.raises(ValueError, match=r"\['ffn'\].*linear1"):
        add_adapters(model, targets=["ffn"])
    with pytest.raises(ValueError, match="add_bert_adapters|no adapters|has no adapters"):
        save_adapters(model, tmp_path / "a.pt")
    with pytest.raises(ValueError, match="no BERT-style layer.*add_adapters"):
        add_bert_adapters(model)
    add_adapters(model, train_modules="classifier")
    with pytest.raises(ValueError, match="already"):
        add_adapters(model)
    with pytest.raises(ValueError, match="already"):
        apply_lora(model, "linear1", rank=2, alpha=4)  # no stacking of LoRA on an adapted layer
    with pytest.raises(ValueError, match=r"classifier\.weight.*include="):
        save_adapters(model, tmp_path / "a.pt")
    with pytest.raises(ValueError, match="ftcourse.lora"):
        other = TransformerClassifier(torch.randn(50, 100), 2)
        apply_lora(other, "linear1", rank=2, alpha=4)
        load_adapters(seed_net(), save_lora(other, tmp_path / "l.pt"))


# ---- BERT: Houlsby placement on transformers' own layers ----------------------------------------


def hf():
    return pytest.importorskip(
        "transformers", reason="the BERT cases need transformers (ftcourse[hf])"
    )


def bert_config():
    hf()  # skips without transformers
    from ftcourse.hf import tiny_config

    return tiny_config("bert", vocab_size=120, max_position_embeddings=32)


def bert() -> nn.Module:
    return hf().BertModel(bert_config())


def distilbert() -> nn.Module:
    return hf().DistilBertModel(
        hf().DistilBertConfig(vocab_size=120, dim=64, n_layers=2, n_heads=2, hidden_dim=128)
    )


# build, head size, train_modules
BERTS = {
    "BertModel": (bert, 0, ()),
    "BertForSequenceClassification": (
        lambda: hf().BertForSequenceClassification(bert_config()),
        64 * 2 + 2,
        ("classifier",),
    ),
    "EncoderClassifier": (lambda: EncoderClassifier(bert(), 3), 64 * 3 + 3, ("classifier",)),
    "DistilBertModel": (distilbert, 0, ()),
}


@pytest.mark.parametrize("kind", list(BERTS))
def test_bert_adapters_start_equal_count_to_the_formula_and_act(kind):
    build, head_size, train = BERTS[kind]
    torch.manual_seed(0)
    model = build().eval()
    ids = tokens(120)
    expected = run(model, ids)
    names = add_bert_adapters(model, bottleneck=8, train_modules=train)
    ends = (
        ("attention.out_lin", "ffn.lin2")
        if kind.startswith("Distil")
        else ("attention.output.dense", "output.dense")
    )
    assert len(names) == 4 and all(n.endswith(ends[i % 2]) for i, n in enumerate(names))
    assert count_parameters(model).trainable == 4 * adapter_size(64, 8) + head_size
    torch.testing.assert_close(run(model, ids), expected, atol=1e-6, rtol=0)
    perturb(model)
    assert not torch.allclose(run(model, ids), expected, atol=1e-3)
    with pytest.raises(ValueError, match="already has an adapter"):
        add_bert_adapters(model)


def test_bert_adapters_train_alone_and_round_trip(tmp_path):
    torch.manual_seed(0)
    model = EncoderClassifier(bert(), 2)
    fresh = copy.deepcopy(model)
    add_bert_adapters(model, bottleneck=8, train_modules="classifier")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    ids, labels = tokens(120), torch.tensor([0, 1, 1, 0])
    for _ in range(2):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(ids), labels).backward()
        optimiser.step()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]) != (name in trainable), name
    path = save_adapters(model, tmp_path / "bert.safetensors", include="classifier")
    load_adapters(fresh, path)
    mask = (ids != 1).long()
    torch.testing.assert_close(
        run(fresh.eval(), ids, mask), run(model.eval(), ids, mask), atol=0, rtol=0
    )


def test_encoder_classifier_reads_cls_and_checks_its_inputs():
    torch.manual_seed(0)
    model = EncoderClassifier(bert(), 2).eval()
    ids = tokens(120)
    logits = run(model, ids, torch.ones_like(ids), torch.zeros_like(ids))
    assert logits.shape == (4, 2)
    hidden = run(model.base_model, ids)[:, 0]
    torch.testing.assert_close(logits, model.classifier(hidden), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="num_class"):
        EncoderClassifier(bert(), 1)
    with pytest.raises(ValueError, match="hidden size"):
        EncoderClassifier(nn.Linear(3, 3), 2)
