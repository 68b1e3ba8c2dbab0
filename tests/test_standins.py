"""The pre-trained ci stand-ins: trained once, cached under a key of everything they are built from,
loaded by `hf.load_model` on `ci`, and random again with `pretrained=False`."""

from __future__ import annotations

import pytest
import torch

from ftcourse import hf, standins


def _train_steps(model, tokenizer, examples, steps: int = 3, lr: float = 1e-2):
    """A tiny causal-LM recipe for the tests: a few steps on the examples."""
    _train_steps.calls += 1
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    batch = tokenizer(list(examples), return_tensors="pt", padding=True)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


_train_steps.calls = 0


@pytest.fixture
def recipe(monkeypatch, tmp_path):
    monkeypatch.setenv("FTCOURSE_CACHE", str(tmp_path))
    made = standins.Recipe(examples=lambda: ["the film was good", "the film was bad"],
                           train=_train_steps, describe="two test sentences", settings={"steps": 3})
    monkeypatch.setitem(standins.RECIPES, "sft", made)
    _train_steps.calls = 0
    return made


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_trained_once_then_loaded_from_the_cache(recipe):
    first = hf.standin_dir("sft")
    second = hf.standin_dir("sft")
    assert first == second and (first / "config.json").is_file()
    assert _train_steps.calls == 1
    trained = hf.load_model("sft", profile="ci")
    random = hf.load_model("sft", profile="ci", pretrained=False)
    assert not torch.equal(_weights(trained), _weights(random))
    assert "pre-trained here on two test sentences" in hf.describe("sft", profile="ci")
    assert "random weights" in hf.describe("sft", profile="ci", pretrained=False)


def test_a_changed_recipe_trains_a_new_stand_in(recipe, monkeypatch):
    before = hf.standin_dir("sft")
    changed = standins.Recipe(examples=lambda: ["the film was great"], train=_train_steps,
                              describe="one sentence", settings={"steps": 3})
    monkeypatch.setitem(standins.RECIPES, "sft", changed)
    after = hf.standin_dir("sft")
    assert after != before and _train_steps.calls == 2


def test_settings_reach_the_config_and_typos_are_refused(recipe):
    model = hf.load_model("sft", profile="ci", dropout=0.0)
    assert model.config.dropout == 0.0
    with pytest.raises(TypeError, match="dropuot"):
        hf.load_model("sft", profile="ci", dropuot=0.0)


def test_a_new_head_on_the_pretrained_body_is_seeded(recipe):
    a = hf.load_model("sft", task="sequence-classification", profile="ci", num_labels=3, seed=0)
    b = hf.load_model("sft", task="sequence-classification", profile="ci", num_labels=3, seed=0)
    c = hf.load_model("sft", task="sequence-classification", profile="ci", num_labels=3, seed=1)
    assert a.config.num_labels == 3
    assert torch.equal(a.score.weight, b.score.weight) and not torch.equal(a.score.weight, c.score.weight)
    body = hf.load_model("sft", profile="ci")
    assert torch.equal(a.model.decoder.embed_tokens.weight, body.model.decoder.embed_tokens.weight)


def test_pretrained_true_without_a_recipe_names_the_roles(recipe):
    with pytest.raises(ValueError, match="no pre-trained ci stand-in"):
        hf.load_model("bert_cased", profile="ci", pretrained=True)


def test_changed_training_code_trains_a_new_stand_in(tmp_path, monkeypatch):
    """The key holds the source of the recipe's module: editing the training code is enough to
    retrain, with the same name, examples and settings."""
    import importlib
    import sys

    module_file = tmp_path / "recipe_module.py"
    module_file.write_text("def train(model, tokenizer, examples):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("recipe_module")
    try:
        def key():
            made = standins.Recipe(examples=lambda: ["a"], train=module.train, describe="x")
            return standins.recipe_key("sft", made, ["a"], {})

        before = key()
        assert key() == before
        module_file.write_text("def train(model, tokenizer, examples):\n    return 1\n")
        importlib.reload(module)
        assert key() != before
    finally:
        sys.modules.pop("recipe_module", None)


def test_publish_folder_keeps_the_copy_already_in_place(tmp_path):
    from ftcourse._env import publish_folder

    target = tmp_path / "thing"
    publish_folder(target, lambda folder: (folder / "marker.json").write_text("first"), "marker.json")
    # a second writer finishing later (the rename onto a non-empty folder fails) keeps the first copy
    publish_folder(target, lambda folder: (folder / "marker.json").write_text("second"), "marker.json")
    assert (target / "marker.json").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["thing"]  # no temporary folder left behind
    with pytest.raises(OSError):  # a failed rename with no copy in place is not hidden
        blocker = tmp_path / "blocked"
        blocker.mkdir()
        (blocker / "other").write_text("x")
        publish_folder(blocker, lambda folder: (folder / "m").write_text("y"), "marker.json")
