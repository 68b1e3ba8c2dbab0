"""freeze / unfreeze / count_parameters / replace_head."""

import pytest
import torch

from ftcourse.adapt import count_parameters, freeze, replace_head, trainable_names, unfreeze
from ftcourse.models import TransformerClassifier


def _model():
    return TransformerClassifier(torch.zeros(50, 8), num_classes=4)


def test_freeze_then_unfreeze_linear2_like_the_seed():
    model = freeze(_model())
    assert count_parameters(model).trainable == 0
    names = unfreeze(model, "*.linear2.*")
    assert names == [f"transformer_encoder.layers.{i}.linear2.{p}" for i in (0, 1) for p in ("weight", "bias")]
    assert count_parameters(model).trainable == 2 * (128 * 8 + 8)


def test_unfreeze_nothing_matches_raises_with_names():
    with pytest.raises(ValueError, match="no parameter name matches.*transformer_encoder"):
        unfreeze(_model(), "*.linear3.*")


def test_count_parameters_percent_and_shared_tensors():
    layer = torch.nn.Linear(4, 4)
    tied = torch.nn.Sequential(layer, layer)
    counts = count_parameters(tied)
    assert counts.total == 20 and counts.percent == 100.0
    assert "trainable 20 of 20" in str(counts)


def test_replace_head_is_fresh_and_trainable():
    model = freeze(_model())
    new = replace_head(model, 2)
    assert model.classifier is new and new.out_features == 2 and new.in_features == 8
    assert trainable_names(model) == ["classifier.weight", "classifier.bias"]
    with pytest.raises(ValueError, match="attribute="):
        replace_head(model, 2, attribute="emb")
    with pytest.raises(ValueError, match="at least 2"):
        replace_head(model, 1)


def test_replace_head_follows_a_dotted_path():
    model = torch.nn.Sequential()
    model.add_module("body", torch.nn.Linear(3, 6))
    model.add_module("head", torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(6, 4)))
    model.head.add_module("fc", torch.nn.Linear(6, 5, bias=False))
    new = replace_head(model, num_classes=3, attribute="head.fc")
    assert model.head.fc is new and (new.in_features, new.out_features) == (6, 3) and new.bias is None
    assert replace_head(model, 2, attribute="head.1") is model.head[1]
    with pytest.raises(ValueError, match=r"model\.head is Sequential, not nn\.Linear.*attribute="):
        replace_head(model, 2, attribute="head")
    with pytest.raises(ValueError, match=r"model\.head\.nope is missing.*top-level modules are: body, head"):
        replace_head(model, 2, attribute="head.nope")
    with pytest.raises(ValueError, match=r"model\.tail\.fc is missing"):
        replace_head(model, 2, attribute="tail.fc")


def test_the_package_re_exports_the_public_api():
    import ftcourse.adapt as adapt
    from ftcourse.adapt import adapters, basics, lora

    assert {"apply_lora", "add_adapters", "add_bert_adapters", "freeze", "unfreeze", "count_parameters",
            "replace_head", "merge_lora", "unmerge_lora", "unload_lora", "save_lora", "load_lora",
            "save_adapters", "load_adapters", "LoRALayer", "LinearWithLoRA", "BottleneckAdapter"} <= set(adapt.__all__)
    for name in adapt.__all__:
        origin = next(m for m in (adapters, basics, lora, adapt.inject) if hasattr(m, name))
        assert getattr(adapt, name) is getattr(origin, name), name
