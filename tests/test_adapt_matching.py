"""One name-matching rule for every caller that picks layers or parameters by name.

`unfreeze`, `apply_lora`, `add_adapters` and `vision.param_groups` are given the same patterns
and must select the same layers (for the parameter callers: every parameter of those layers).
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ftcourse.adapt import (
    MATCHING_RULE,
    add_adapters,
    apply_lora,
    freeze,
    name_matches,
    parameter_matches,
    trainable_names,
    unfreeze,
)
from ftcourse.vision import param_groups


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(4, 4)
        self.value = nn.Linear(4, 4)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(Block(), Block())
        self.pre_classifier = nn.Linear(4, 4)
        self.classifier = nn.Linear(4, 2)


# pattern -> the Linear layers it selects, in model order
CASES = {
    "classifier": ["classifier"],  # the exact name, and not pre_classifier
    "query": ["encoder.0.query", "encoder.1.query"],  # a dotted suffix
    "1.query": ["encoder.1.query"],  # a longer dotted suffix
    "encoder.0.value": ["encoder.0.value"],  # the full name
    "*.0.*": ["encoder.0.query", "encoder.0.value"],  # a glob over the full name
    "encoder.?.value": ["encoder.0.value", "encoder.1.value"],
    "*classifier": ["pre_classifier", "classifier"],
}
NOTHING = ["lassifier", "encoder.2.query", "Query"]  # no partial words, no case folding


def _params(layers: list[str]) -> list[str]:
    return [f"{layer}.{p}" for layer in layers for p in ("weight", "bias")]


@pytest.mark.parametrize("pattern, layers", CASES.items())
def test_unfreeze_selects_every_parameter_of_the_matched_layers(pattern, layers):
    model = freeze(Net())
    assert sorted(unfreeze(model, pattern)) == sorted(_params(layers))
    assert sorted(trainable_names(model)) == sorted(_params(layers))


@pytest.mark.parametrize("pattern, layers", CASES.items())
def test_apply_lora_and_add_adapters_wrap_the_matched_layers(pattern, layers):
    assert sorted(apply_lora(Net(), pattern, rank=2, alpha=4)) == sorted(layers)
    assert sorted(add_adapters(Net(), pattern, bottleneck=2)) == sorted(layers)


@pytest.mark.parametrize("pattern, layers", CASES.items())
def test_param_groups_group_the_parameters_of_the_matched_layers(pattern, layers):
    model = freeze(Net())
    unfreeze(model, pattern)
    (group,) = param_groups(model, {pattern: 1e-3})
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in group["params"]) == sorted(_params(layers))


@pytest.mark.parametrize("pattern", NOTHING)
def test_a_pattern_that_matches_nothing_raises_in_every_caller(pattern):
    with pytest.raises(ValueError, match="no parameter name matches"):
        unfreeze(Net(), pattern)
    with pytest.raises(ValueError, match="match no nn.Linear.*equals a dotted suffix"):
        apply_lora(Net(), pattern, rank=2, alpha=4)
    with pytest.raises(ValueError, match="match no nn.Linear"):
        add_adapters(Net(), pattern)
    model = freeze(Net())
    unfreeze(model, "classifier")
    with pytest.raises(ValueError, match="match no trainable"):
        param_groups(model, {"classifier": 1e-3, pattern: 1e-4})


def test_parameter_patterns_can_name_a_parameter_or_any_module_holding_it():
    model = freeze(Net())
    assert unfreeze(model, "classifier.weight") == ["classifier.weight"]
    assert unfreeze(copy.deepcopy(model), "classifier.*") == _params(["classifier"])
    assert unfreeze(freeze(model), "encoder.1") == _params(["encoder.1.query", "encoder.1.value"])
    biases = unfreeze(freeze(model), "bias")  # a dotted suffix of every bias (BitFit)
    assert biases == [n for n, _ in model.named_parameters() if n.endswith(".bias")]


def test_the_rule_on_names():
    assert name_matches("encoder.layer.0.attention.self.query", "query")
    assert name_matches("encoder.layer.0.attention.self.query", "self.query")
    assert not name_matches("encoder.layer.0.attention.self.query", "f.query")  # whole words only
    assert name_matches("encoder.layer.11.output.dense", "*.layer.1?.*")
    assert not name_matches("encoder.layer.1.output.dense", "layer.1")  # a suffix, not a part
    assert parameter_matches("encoder.layer.1.output.dense.weight", "encoder.layer.1")
    assert parameter_matches("encoder.layer.1.output.dense.weight", "layer")  # encoder.layer holds it
    assert not parameter_matches("encoder.layer.1.output.dense.weight", "dense.bias")
    assert not parameter_matches("encoder.layer.1.output.dense.weight", "encoder.lay")
    assert "dotted suffix" in MATCHING_RULE and "glob" in MATCHING_RULE


def test_train_modules_and_include_use_the_same_rule(tmp_path):
    from ftcourse.adapt import lora_state_dict

    model = Net()
    apply_lora(model, "query", rank=2, alpha=4, train_modules="classifier")
    assert sorted(trainable_names(model)) == sorted(
        [f"encoder.{i}.query.lora.{w}" for i in (0, 1) for w in "AB"] + _params(["classifier"])
    )
    state = lora_state_dict(model, include="*classifier")
    assert {"classifier.weight", "pre_classifier.weight"} <= set(state)
    torch.testing.assert_close(state["classifier.weight"], model.classifier.weight)
