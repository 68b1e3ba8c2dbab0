"""LoRA from scratch meets the invariants PEFT tests for its own LoRA, on the course's models."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from ftcourse.adapt import count_parameters, replace_head
from ftcourse.adapt.adapters import add_adapters, save_adapters
from ftcourse.adapt.lora import (
    LinearWithLoRA,
    LoRALayer,
    apply_lora,
    load_lora,
    lora_state_dict,
    merge_lora,
    save_lora,
    unload_lora,
    unmerge_lora,
)
from ftcourse.models import LeNet, MeanEmbeddingClassifier, TransformerClassifier


def small_bert():
    transformers = pytest.importorskip(
        "transformers", reason="the BERT cases need transformers (ftcourse[hf])"
    )
    from ftcourse.hf import tiny_config

    return transformers.BertModel(tiny_config("bert", vocab_size=120, max_position_embeddings=32))


class BertHidden(nn.Module):
    """A BertModel returning its last hidden state, so every case is called as model(x)."""

    def __init__(self) -> None:
        super().__init__()
        self.bert = small_bert()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.bert(input_ids=ids).last_hidden_state


def tokens(vocab: int = 50, batch: int = 4, length: int = 9) -> torch.Tensor:
    x = torch.randint(2, vocab, (batch, length))
    x[0, 6:] = 1  # some padding, so masks matter
    return x


# (build the base, make an input, LoRA targets, a head to train or None)
CASES = {
    "mean_embedding": (
        lambda: MeanEmbeddingClassifier(torch.randn(50, 100), 2),
        tokens,
        ["fc1"],
        "fc2",
    ),
    "lenet": (lambda: LeNet(10), lambda: torch.randn(3, 1, 32, 32), ["fc2"], None),
    "transformer": (
        lambda: TransformerClassifier(torch.randn(50, 100), 2),
        tokens,
        ["linear1", "linear2"],
        "classifier",
    ),
    "bert": (BertHidden, lambda: tokens(120), ["query", "value"], None),
}


@pytest.fixture(params=list(CASES))
def case(request):
    torch.manual_seed(0)
    build, make_input, targets, head = CASES[request.param]
    base = build().eval()
    return base, make_input(), targets, head


def randomise_lora(model: nn.Module) -> None:
    """Non-zero B (and fresh A), so the update is visible: the zero-initialised B hides bugs."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoRALayer):
                module.A.normal_(std=0.3)
                module.B.normal_(std=0.3)


def run(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def test_lora_layer_starts_at_zero_and_counts_like_seed_002():
    layer = LoRALayer(100, 128, rank=2, alpha=0.1)
    assert sum(p.numel() for p in layer.parameters()) == 456  # 2 * (100 + 128)
    assert torch.count_nonzero(layer.B) == 0 and torch.count_nonzero(layer.A) > 0
    assert torch.equal(layer(torch.randn(5, 100)), torch.zeros(5, 128))


def test_conventions_scale_and_initialise_as_documented():
    torch.manual_seed(0)
    peft_style = LoRALayer(1000, 10, rank=4, alpha=32)
    seed_style = LoRALayer(1000, 10, rank=4, alpha=0.1, convention="seed002")
    assert peft_style.scaling.item() == pytest.approx(8.0)
    assert seed_style.scaling.item() == pytest.approx(0.1)
    assert peft_style.A.abs().max() <= 1 / math.sqrt(1000)
    assert seed_style.A.std().item() == pytest.approx(0.5, rel=0.1)  # 1 / sqrt(rank)
    # seed 002's rank 2, alpha 0.1 is PEFT's rank 2, alpha 0.2
    a, b = LoRALayer(6, 5, 2, 0.1, convention="seed002"), LoRALayer(6, 5, 2, 0.2)
    b.load_state_dict(a.state_dict() | {"scaling": b.scaling})
    with torch.no_grad():
        a.B.normal_()
        b.B.copy_(a.B)
    x = torch.randn(3, 6)
    torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize(
    "kwargs, message",
    [({"rank": 0}, "rank"), ({"alpha": -1.0}, "alpha"), ({"convention": "hf"}, "convention")],
)
def test_bad_settings_raise(kwargs, message):
    settings = {"rank": 2, "alpha": 1.0} | kwargs
    with pytest.raises(ValueError, match=message):
        LoRALayer(4, 4, **settings)
    model = MeanEmbeddingClassifier(torch.randn(10, 8), 2)
    with pytest.raises(ValueError, match=message):
        apply_lora(model, "fc1", **settings)
    assert isinstance(model.fc1, nn.Linear)  # the model is left untouched


def test_mean_embedding_fc1_rank_2_trains_456_like_seed_002():
    model = MeanEmbeddingClassifier(torch.randn(50, 100), 4)
    replace_head(model, 2, "fc2")
    assert apply_lora(model, "fc1", rank=2, alpha=0.1) == ["fc1"]
    assert count_parameters(model).trainable == 456
    model = MeanEmbeddingClassifier(torch.randn(50, 100), 2)
    apply_lora(model, "fc1", rank=2, alpha=0.1, train_modules=("fc2",))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names == ["fc1.lora.A", "fc1.lora.B", "fc2.weight", "fc2.bias"]  # the seed's list
    assert count_parameters(model).trainable == 456 + 128 * 2 + 2


def test_seed_002_lenet_recipe():
    model = LeNet(10)
    replace_head(model, 26, "fc3")
    apply_lora(model, "fc2", rank=2, alpha=0.1, train_modules="fc3", convention="seed002")
    assert isinstance(model.fc2, LinearWithLoRA) and model.fc2.lora.convention == "seed002"
    assert count_parameters(model).trainable == 2 * (120 + 84) + 84 * 26 + 26
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 26)


def test_output_equals_base_at_initialisation(case):
    base, x, targets, _ = case
    expected = run(base, x)
    names = apply_lora(base, targets, rank=4, alpha=8)
    assert names and all(isinstance(base.get_submodule(n), LinearWithLoRA) for n in names)
    torch.testing.assert_close(run(base, x), expected, atol=1e-6, rtol=0)


def test_trainable_count_is_rank_times_in_plus_out(case):
    base, _, targets, head = case
    rank = 3
    head_size = sum(p.numel() for p in base.get_submodule(head).parameters()) if head else 0
    names = apply_lora(base, targets, rank=rank, alpha=6, train_modules=[head] if head else ())
    expected = sum(
        rank * (base.get_submodule(n).in_features + base.get_submodule(n).out_features)
        for n in names
    )
    assert count_parameters(base).trainable == expected + head_size


def test_merged_equals_unmerged_and_unmerge_restores(case):
    base, x, targets, _ = case
    original = {k: v.clone() for k, v in base.state_dict().items()}
    apply_lora(base, targets, rank=4, alpha=8)
    randomise_lora(base)
    unmerged = run(base, x)
    assert not torch.allclose(unmerged, run(copy.deepcopy(base).apply(_zero_b), x), atol=1e-4)
    merged_names = merge_lora(base)
    assert len(merged_names) == len(apply_targets(base))
    torch.testing.assert_close(run(base, x), unmerged, atol=1e-5, rtol=0)
    assert merge_lora(base) == []  # idempotent: a second merge does nothing
    torch.testing.assert_close(run(base, x), unmerged, atol=1e-5, rtol=0)
    assert unmerge_lora(base) == merged_names and unmerge_lora(base) == []
    torch.testing.assert_close(run(base, x), unmerged, atol=1e-5, rtol=0)
    for name, layer in apply_targets(base).items():
        torch.testing.assert_close(
            layer.linear.weight, original[f"{name}.weight"], atol=1e-6, rtol=0
        )


@pytest.mark.parametrize("merged_first", [False, True])
def test_unload_with_merge_keeps_the_fine_tuned_outputs_in_plain_linears(case, merged_first):
    base, x, targets, _ = case
    total = count_parameters(base).total
    names = apply_lora(base, targets, rank=4, alpha=8)
    randomise_lora(base)
    with_lora = run(base, x)
    if merged_first:
        merge_lora(base)
    assert unload_lora(base) == names
    torch.testing.assert_close(run(base, x), with_lora, atol=1e-5, rtol=0)
    assert not any(isinstance(m, (LinearWithLoRA, LoRALayer)) for m in base.modules())
    assert all(type(base.get_submodule(n)) is nn.Linear for n in names)
    assert count_parameters(base).total == total
    with pytest.raises(ValueError, match="no LoRA layers"):
        unload_lora(base)


@pytest.mark.parametrize("merged_first", [False, True])
def test_unload_without_merge_gives_back_the_base_model(case, merged_first):
    base, x, targets, _ = case
    expected = run(base, x)
    original = copy.deepcopy(base.state_dict())
    total = count_parameters(base).total
    names = apply_lora(base, targets, rank=4, alpha=8)
    randomise_lora(base)
    if merged_first:
        merge_lora(base)
    assert not torch.allclose(run(base, x), expected, atol=1e-4)
    assert unload_lora(base, merge=False) == names
    torch.testing.assert_close(run(base, x), expected, atol=1e-5, rtol=0)
    assert count_parameters(base).total == total
    for key, value in base.state_dict().items():
        torch.testing.assert_close(value, original[key], atol=1e-6, rtol=0)
    assert set(base.state_dict()) == set(original)


def _zero_b(module: nn.Module) -> None:
    if isinstance(module, LoRALayer):
        with torch.no_grad():
            module.B.zero_()


def apply_targets(model: nn.Module) -> dict[str, LinearWithLoRA]:
    return {n: m for n, m in model.named_modules() if isinstance(m, LinearWithLoRA)}


def test_merged_forward_uses_only_the_base_layer(case):
    base, x, targets, _ = case
    apply_lora(base, targets, rank=2, alpha=4)
    randomise_lora(base)
    merge_lora(base)
    merged = run(base, x)
    with torch.no_grad():
        for layer in apply_targets(base).values():
            layer.lora.B.fill_(float("nan"))
    assert torch.equal(run(base, x), merged)


def test_only_lora_and_head_change_in_training(case):
    base, x, targets, head = case
    apply_lora(base, targets, rank=4, alpha=8, train_modules=[head] if head else ())
    base.train()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    trainable = {n for n, p in base.named_parameters() if p.requires_grad}
    optimiser = torch.optim.AdamW([p for p in base.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):  # B starts at 0, so A first gets a gradient on the second step
        optimiser.zero_grad()
        base(x).float().pow(2).mean().backward()
        optimiser.step()
    after = base.state_dict()
    for name, value in before.items():
        if name in trainable:
            assert not torch.equal(after[name], value), f"{name} did not train"
        else:
            assert torch.equal(after[name], value), f"frozen {name} changed"
    assert all(".lora." in n or (head and n.startswith(f"{head}.")) for n in trainable)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_save_and_load_into_a_fresh_base_round_trips(case, tmp_path, suffix):
    base, x, targets, head = case
    fresh = copy.deepcopy(base)
    include = [head] if head else []
    apply_lora(base, targets, rank=4, alpha=8, train_modules=include)
    randomise_lora(base)
    if head:
        with torch.no_grad():
            base.get_submodule(head).weight.normal_()
    path = save_lora(base, tmp_path / f"lora{suffix}", include=include)
    state = lora_state_dict(base, include=include)
    assert set(state) == {
        n for n, _ in base.named_parameters() if ".lora." in n or n.startswith(f"{head}.")
    } | {f"{n}.lora.scaling" for n in apply_targets(base)}
    assert load_lora(fresh, path) == list(apply_targets(base))
    torch.testing.assert_close(run(fresh, x), run(base, x), atol=0, rtol=0)
    assert count_parameters(fresh).trainable == 0  # loaded for inference
    again = copy.deepcopy(fresh.eval())
    load_lora(again, path, trainable=True)  # into an already-wrapped model: loads in place
    assert count_parameters(again).trainable == count_parameters(base).trainable


def test_reload_restores_the_scaling(tmp_path):
    model = MeanEmbeddingClassifier(torch.randn(20, 8), 2)
    fresh = copy.deepcopy(model)
    apply_lora(model, "fc1", rank=2, alpha=0.1, convention="seed002")
    save_lora(model, tmp_path / "a.pt")
    load_lora(fresh, tmp_path / "a.pt")
    assert fresh.fc1.lora.scaling.item() == pytest.approx(0.1)
    assert fresh.fc1.lora.convention == "seed002"


def test_a_target_that_matches_nothing_raises_naming_it():
    model = MeanEmbeddingClassifier(torch.randn(20, 8), 2)
    with pytest.raises(ValueError, match=r"\['query'\].*fc1, fc2"):
        apply_lora(model, ["query"], rank=2, alpha=4)
    with pytest.raises(ValueError, match=r"\['fc3'\]"):  # one typo among good targets still raises
        apply_lora(model, ["fc1", "fc3"], rank=2, alpha=4)
    with pytest.raises(ValueError, match="train_modules='head'"):
        apply_lora(model, ["fc1"], rank=2, alpha=4, train_modules="head")
    assert isinstance(model.fc1, nn.Linear)


def test_globs_and_suffixes_match_like_peft():
    model = TransformerClassifier(torch.randn(20, 8), 2)
    assert apply_lora(copy.deepcopy(model), "*.0.linear*", 2, 4) == [
        "transformer_encoder.layers.0.linear1",
        "transformer_encoder.layers.0.linear2",
    ]
    assert len(apply_lora(copy.deepcopy(model), "linear2", 2, 4)) == 2


def test_wrapping_twice_raises():
    model = MeanEmbeddingClassifier(torch.randn(20, 8), 2)
    apply_lora(model, "fc1", rank=2, alpha=4)
    with pytest.raises(ValueError, match="already"):
        apply_lora(model, "fc1", rank=2, alpha=4)
    with pytest.raises(ValueError, match="already"):
        apply_lora(model, "*", rank=2, alpha=4)  # the glob reaches fc1.linear inside the wrapper
    with pytest.raises(ValueError, match="already"):
        LinearWithLoRA(model.fc1, rank=2, alpha=4)


def test_multihead_attention_out_proj_is_refused():
    model = TransformerClassifier(torch.randn(20, 8), 2)
    with pytest.raises(ValueError, match="MultiheadAttention"):
        apply_lora(model, "out_proj", rank=2, alpha=4)


def test_eval_mode_uses_lora_in_transformer_encoder_layers():
    # nn.TransformerEncoderLayer has a fused inference path that reads linear1.weight directly.
    torch.manual_seed(0)
    model = TransformerClassifier(torch.randn(50, 100), 2).eval()
    x = tokens()
    base = run(model, x)
    apply_lora(model, ["linear1"], rank=4, alpha=8)
    randomise_lora(model)
    assert not torch.allclose(run(model, x), base, atol=1e-3)
    torch.testing.assert_close(run(model, x), model(x).detach(), atol=1e-6, rtol=0)


def test_saving_without_the_trained_head_raises(tmp_path):
    model = MeanEmbeddingClassifier(torch.randn(20, 8), 2)
    apply_lora(model, "fc1", rank=2, alpha=4, train_modules="fc2")
    with pytest.raises(ValueError, match=r"fc2\.weight.*include="):
        save_lora(model, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
    with pytest.raises(ValueError, match="no LoRA"):
        lora_state_dict(MeanEmbeddingClassifier(torch.randn(20, 8), 2))
    with pytest.raises(ValueError, match=".safetensors or .pt"):
        save_lora(model, tmp_path / "x.bin", include="fc2")


def test_loading_into_a_model_with_another_head_names_the_fix(tmp_path):
    news = MeanEmbeddingClassifier(torch.randn(20, 8), 4)
    imdb = copy.deepcopy(news)
    replace_head(imdb, 2, "fc2")
    apply_lora(imdb, "fc1", rank=2, alpha=4, train_modules="fc2")
    path = save_lora(imdb, tmp_path / "imdb.safetensors", include="fc2")
    with pytest.raises(ValueError, match=r"fc2\.(weight|bias).*replace_head"):
        load_lora(copy.deepcopy(news), path)
    replace_head(news, 2, "fc2")
    load_lora(news, path)
    x = tokens(20)
    torch.testing.assert_close(run(news.eval(), x), run(imdb.eval(), x), atol=0, rtol=0)


def test_an_adapter_file_is_not_a_lora_file(tmp_path):
    model = TransformerClassifier(torch.randn(20, 8), 2)
    add_adapters(model, bottleneck=4)
    path = save_adapters(model, tmp_path / "adapters.pt")
    with pytest.raises(ValueError, match="ftcourse.adapters"):
        load_lora(TransformerClassifier(torch.randn(20, 8), 2), path)


def test_half_precision_layer_merges_in_its_dtype():
    linear = nn.Linear(16, 8).to(torch.bfloat16)
    layer = LinearWithLoRA(linear, rank=2, alpha=4)
    assert layer.lora.A.dtype == torch.bfloat16
    with torch.no_grad():
        layer.lora.B.normal_()
    x = torch.randn(3, 16, dtype=torch.bfloat16)
    unmerged = layer(x)
    layer.merge()
    torch.testing.assert_close(layer(x), unmerged, atol=0.1, rtol=0.05)
    assert layer.linear.weight.dtype == torch.bfloat16


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")  # raised inside peft
def test_parity_with_peft_on_bert():
    peft = pytest.importorskip("peft", reason="the parity check needs peft (ftcourse[peft])")
    torch.manual_seed(0)
    base = small_bert().eval()
    theirs = peft.get_peft_model(
        copy.deepcopy(base), peft.LoraConfig(r=8, lora_alpha=32, target_modules=["query", "value"])
    )
    ours = copy.deepcopy(base)
    names = apply_lora(ours, ["query", "value"], rank=8, alpha=32)
    assert len(names) == 4
    randomise_lora(ours)
    with torch.no_grad():
        for name in names:
            mine = ours.get_submodule(name)
            peer = theirs.base_model.model.get_submodule(name)
            assert peer.scaling["default"] == mine.lora.scaling.item()
            peer.lora_A["default"].weight.copy_(mine.lora.A.T)
            peer.lora_B["default"].weight.copy_(mine.lora.B.T)
    ids = tokens(120)
    expected = run(theirs.eval(), ids).last_hidden_state
    torch.testing.assert_close(run(ours, ids).last_hidden_state, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(run(base, ids).last_hidden_state, expected, atol=1e-3)
    assert (
        count_parameters(ours).trainable == count_parameters(theirs).trainable == 4 * 8 * (64 + 64)
    )
    merged = theirs.merge_and_unload()
    merge_lora(ours)
    for name in names:
        torch.testing.assert_close(
            ours.get_submodule(name).linear.weight,
            merged.get_submodule(name).weight,
            atol=1e-6,
            rtol=0,
        )


# ---------------------------------------------------------------------------------------------
# GPT-2's Conv1D layers (chapter 12): converted to nn.Linear, then the same LoRA as PEFT's
def tiny_gpt2():
    transformers = pytest.importorskip("transformers", reason="the GPT-2 cases need transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=2, n_positions=16)
    return transformers.GPT2LMHeadModel(config).eval()


def test_conv1d_to_linear_keeps_the_outputs():
    from ftcourse.adapt.lora import conv1d_to_linear

    model = tiny_gpt2()
    ids = torch.randint(0, 100, (2, 7))
    before = model(ids).logits
    names = conv1d_to_linear(model, ["c_attn", "c_proj"])
    # c_proj is both the attention output and the MLP's second layer, as in PEFT
    assert names == [f"transformer.h.{i}.{n}" for i in range(2) for n in ("attn.c_attn", "attn.c_proj", "mlp.c_proj")]
    assert all(isinstance(model.get_submodule(n), nn.Linear) for n in names)
    assert torch.allclose(model(ids).logits, before, atol=1e-5)
    with pytest.raises(ValueError, match="match no Conv1D"):
        conv1d_to_linear(model, ["c_fc", "q_proj"])


def test_gpt2_lora_matches_peft_fan_in_fan_out():
    peft = pytest.importorskip("peft", reason="needs peft")
    from ftcourse.adapt.lora import conv1d_to_linear

    ours, theirs = tiny_gpt2(), tiny_gpt2()
    conv1d_to_linear(ours, ["c_attn", "c_proj"])
    torch.manual_seed(1)
    names = apply_lora(ours, ["c_attn", "c_proj"], rank=4, alpha=8)
    config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["c_attn", "c_proj"],
                             fan_in_fan_out=True, task_type="CAUSAL_LM")
    theirs = peft.get_peft_model(theirs, config)
    assert count_parameters(ours).trainable == count_parameters(theirs).trainable == sum(
        4 * (m.linear.in_features + m.linear.out_features) for m in (ours.get_submodule(n) for n in names))
    ids = torch.randint(0, 100, (2, 7))
    assert torch.allclose(ours(ids).logits, theirs(ids).logits, atol=1e-5)  # B = 0: both are the base
    with torch.no_grad():
        for name in names:
            lora = ours.get_submodule(name).lora
            lora.B.normal_()
            target = theirs.base_model.model.get_submodule(name)
            target.lora_A["default"].weight.copy_(lora.A.T)
            target.lora_B["default"].weight.copy_(lora.B.T)
    theirs.eval()
    assert torch.allclose(ours(ids).logits, theirs(ids).logits, atol=1e-4)


def test_a_lora_layer_prints_its_settings_even_on_the_meta_device():
    assert "rank=2, alpha=4, scaling=2 (peft)" in repr(LoRALayer(6, 5, 2, 4.0))
    with torch.device("meta"):
        layer = LinearWithLoRA(torch.nn.Linear(6, 5), rank=2, alpha=4.0)
    assert "rank=2, alpha=4, scaling=2 (peft)" in repr(layer)
    with torch.device("meta"):
        layer = LinearWithLoRA(torch.nn.Linear(6, 5), rank=2, alpha=4.0, convention="seed002")
    assert "rank=2, alpha=4, scaling=4 (seed002)" in repr(layer)
