"""ftcourse.inference: the by-hand paths give what the pipelines and `generate` give (chapter 06)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers", reason="the Hugging Face chapters need transformers (ftcourse[hf])")

from ftcourse import hf, inference  # noqa: E402


def test_classify_manually_matches_the_pipeline_and_rejects_empty_text():
    from transformers import pipeline

    tokenizer = hf.load_tokenizer("sentiment", profile="ci")
    model = hf.load_model("sentiment", profile="ci", seed=3)
    texts = ["The film was brilliant.", "A dull, tedious and far too long film."]
    manual = inference.classify_manually(model, tokenizer, texts)
    piped = pipeline("text-classification", model=model, tokenizer=tokenizer)(texts)
    assert [m["label"] for m in manual] == [p["label"] for p in piped]
    assert all(abs(m["score"] - p["score"]) < 1e-5 for m, p in zip(manual, piped))
    assert all(0.5 <= m["score"] <= 1 for m in manual)  # the argmax of two classes
    assert inference.classify_manually(model, tokenizer, texts[0]) == manual[:1]  # one text, unpadded
    with pytest.raises(ValueError, match="non-empty"):
        inference.classify_manually(model, tokenizer, ["fine", " "])


def test_fill_mask_manually_matches_the_pipeline():
    from transformers import pipeline

    tokenizer = hf.load_tokenizer("fill_mask", profile="ci")
    model = hf.load_model("fill_mask", profile="ci", pretrained=False)
    text = "The film was [MASK] and the music was good."
    manual = inference.fill_mask_manually(model, tokenizer, text, top_k=4)
    piped = pipeline("fill-mask", model=model, tokenizer=tokenizer)(text, top_k=4)
    assert [m["token"] for m in manual] == [p["token"] for p in piped]
    assert [m["token_str"] for m in manual] == [p["token_str"] for p in piped]
    assert all(abs(m["score"] - p["score"]) < 1e-6 for m, p in zip(manual, piped))
    assert [m["score"] for m in manual] == sorted((m["score"] for m in manual), reverse=True)
    for bad in ["no mask here", "[MASK] and [MASK]"]:
        with pytest.raises(ValueError, match="exactly one"):
            inference.fill_mask_manually(model, tokenizer, bad)


@pytest.mark.parametrize("role", ["generation", "translation"])
def test_greedy_generate_reproduces_generate(role):
    tokenizer = hf.load_tokenizer(role, profile="ci")
    model = hf.load_model(role, profile="ci", seed=2, pretrained=False)
    batch = tokenizer(["The film was good and the story"], return_tensors="pt")
    ids, logits = inference.greedy_generate(model, batch["input_ids"], batch["attention_mask"], max_new_tokens=6)
    out = model.generate(**batch, max_new_tokens=6, do_sample=False, return_dict_in_generate=True,
                         output_logits=True, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    assert ids.tolist() == out.sequences.tolist()
    prefix = 1 if model.config.is_encoder_decoder else batch["input_ids"].shape[1]  # start token or prompt
    assert len(logits) == len(out.logits) == ids.shape[1] - prefix
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(logits, out.logits))
    with pytest.raises(ValueError, match="one text at a time"):
        inference.greedy_generate(model, batch["input_ids"].repeat(2, 1))


def test_greedy_generate_stops_at_the_end_token():
    tokenizer = hf.load_tokenizer("generation", profile="ci")
    model = hf.load_model("generation", profile="ci", pretrained=False)
    prompt = tokenizer("The film", return_tensors="pt")["input_ids"]
    ids, _ = inference.greedy_generate(model, prompt, max_new_tokens=5)
    assert ids.shape[1] == prompt.shape[1] + 5
    model.generation_config.eos_token_id = int(ids[0, prompt.shape[1]])  # its first pick ends it now
    ids, logits = inference.greedy_generate(model, prompt, max_new_tokens=5)
    assert ids.shape[1] == prompt.shape[1] + 1 and len(logits) == 1




def test_label_accuracy_compares_names_and_leaves_out_unmapped_gold():
    from ftcourse.inference import label_accuracy

    items = [(0, "a"), (1, "b"), (2, "c"), (1, "d")]
    names = {0: "NEGATIVE", 1: "POSITIVE"}
    assert label_accuracy(items, ["NEGATIVE", "POSITIVE", "POSITIVE", "NEGATIVE"], names.get) == 2 / 3
    with pytest.raises(ValueError, match="one per item"):
        label_accuracy(items, ["NEGATIVE"], names.get)
    with pytest.raises(ValueError, match="no item"):
        label_accuracy([(2, "c")], ["POSITIVE"], names.get)
