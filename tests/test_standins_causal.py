"""The causal stand-ins ("generation", "sft"): pre-trained on the generated small world, they
complete its statements (as GPT-2 and OPT-350m complete facts they read on the web), and their
recipe gives the same weights every run."""

from __future__ import annotations

import pytest
import torch

from ftcourse import hf
from ftcourse.corpora import world
from ftcourse.standins import RECIPES, causal


def _complete(model, tokenizer, prompt: str, max_new_tokens: int = 8) -> str:
    batch = tokenizer(prompt, return_tensors="pt")
    out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                         pad_token_id=tokenizer.eos_token_id)
    return tokenizer.decode(out[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.parametrize("role", ["generation", "sft"])
def test_the_standin_completes_the_worlds_statements(role):
    assert role in RECIPES
    tokenizer = hf.load_tokenizer(role, profile="ci")
    model = hf.load_model(role, profile="ci").eval()
    # Other draws (seed 99) than the pre-training text's, cut before the answer: "The capital of
    # Peru is" -> " Lima.", "Three plus four is" -> " seven.".
    statements = sorted(set(world.world_sentences(300, seed=99)))
    right = {}
    for statement, (prompt, answer, _, ok) in zip(statements, causal.complete_statements(model, tokenizer, statements)):
        assert statement == f"{prompt} {answer}."
        kind = next(k for k in ("capital", "opposite", "legs", "plus", "plural") if k in statement)
        right.setdefault(kind, []).append(ok)
    share = sum(map(sum, right.values())) / len(statements)
    assert share >= 0.8, {k: f"{sum(v)}/{len(v)}" for k, v in right.items()}
    assert all(sum(v) / len(v) >= 0.8 for k, v in right.items() if k != "plus"), right
    random = hf.load_model(role, profile="ci", pretrained=False).eval()
    assert not _complete(random, tokenizer, "The capital of Peru is").startswith(" Lima")


def test_complete_statements_wants_the_whole_word():
    class Echo:  # a "model" that always continues with the given ids
        device = "cpu"

        def __init__(self, ids):
            self.ids = ids

        def eval(self):
            return self

        def generate(self, input_ids, **_):
            return torch.cat([input_ids, torch.tensor([self.ids])], dim=1)

    tokenizer = hf.load_tokenizer("sft", profile="ci")
    lim = tokenizer(" Lima.", add_special_tokens=False)["input_ids"]
    limas = tokenizer(" Limas.", add_special_tokens=False)["input_ids"]
    assert causal.complete_statements(Echo(lim), tokenizer, ["The capital of Peru is Lima."]) == [
        ("The capital of Peru is", "Lima", " Lima.", True)]
    assert not causal.complete_statements(Echo(limas), tokenizer, ["The capital of Peru is Lima."])[0][3]


def test_the_pages_prompts_continue_in_the_world():
    story = hf.load_model("generation", profile="ci").eval()
    text = _complete(story, hf.load_tokenizer("generation", profile="ci"), "Once upon a time", 12)
    assert text.startswith(" there was a"), text
    opinion = hf.load_model("sft", profile="ci").eval()
    text = _complete(opinion, hf.load_tokenizer("sft", profile="ci"), "This movie was really", 20)
    assert text.split(".")[0].strip() in world.FILM_GOOD + world.FILM_BAD, text


def test_the_recipe_is_deterministic_and_leaves_the_callers_rng_alone():
    tokenizer = hf.load_tokenizer("sft", profile="ci")
    texts = world.world_sentences(40, kinds=("capital", "story"))
    weights = []
    for _ in range(2):
        model = hf.load_model("sft", profile="ci", pretrained=False)
        torch.manual_seed(123)
        causal.train_causal_lm(model, tokenizer, texts, steps=3, lr=1e-2, batch_size=4)
        expected = torch.rand(1, generator=torch.Generator().manual_seed(123))
        assert torch.equal(torch.rand(1), expected)  # the caller's RNG as it left it
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
    start = hf.load_model("sft", profile="ci", pretrained=False)
    assert not torch.equal(weights[0], torch.cat([p.detach().flatten() for p in start.parameters()]))
    with pytest.raises(ValueError, match="steps and batch_size"):
        causal.train_causal_lm(start, tokenizer, texts, steps=0, lr=1e-2, batch_size=4)


def test_world_kinds_for_the_pages_prompts():
    assert world.world_sentences(5) == world.world_sentences(5, kinds=world.FACT_KINDS)
    story, review = world.world_sentences(2, kinds=("story", "review"))
    assert story.startswith("Once upon a time there was a ")
    assert review.startswith("This movie was really ")
    with pytest.raises(ValueError, match="the kinds are"):
        world.world_sentences(2, kinds=("poem",))
