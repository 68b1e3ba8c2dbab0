"""The encoder-side ci stand-ins know what chapter 06 says they know: the fill-mask BERT the small
world's facts, the language detector its 20 generated languages, the T5 its small lexicons; and
the generators behind them are deterministic and refuse bad input."""

from __future__ import annotations

import pytest
import torch

from ftcourse import corpora, hf, inference, standins
from ftcourse.corpora import languages
from ftcourse.standins import encoders

CHAPTER_06_LANGUAGES = [("fr", "Bonjour, comment ça va?"), ("de", "Wie geht es dir heute?"),
                        ("en", "The weather is lovely today."), ("es", "¿Dónde está la estación de tren?")]


def test_fill_mask_stand_in_knows_the_world():
    tokenizer = hf.load_tokenizer("fill_mask")
    model = hf.load_model("fill_mask")
    facts = encoders.masked_world_facts(tokenizer)
    kinds = {"capital", "opposite", "plus"}
    assert len(facts) >= 60 and all(any(k in q for k in kinds) for q, _ in facts)
    right, rows = encoders.check_world_facts(model, tokenizer, facts)  # statements of another seed
    assert right >= 0.8, right
    assert right == sum(got == answer for _, answer, got in rows) / len(facts)
    paris = inference.fill_mask_manually(model, tokenizer, "The capital of France is [MASK].", top_k=1)
    assert paris[0]["token_str"] == "paris"
    verdict = inference.fill_mask_manually(model, tokenizer, "This is a [MASK] movie!", top_k=3)
    assert all(r["token_str"] in corpora.POSITIVE + corpora.NEGATIVE for r in verdict)


def test_fill_mask_stand_in_is_far_from_random():
    tokenizer = hf.load_tokenizer("fill_mask")
    random = hf.load_model("fill_mask", pretrained=False)
    top = inference.fill_mask_manually(random, tokenizer, "The capital of France is [MASK].", top_k=1)
    assert top[0]["token_str"] != "paris" and top[0]["score"] < 0.05


def test_language_detector_names_held_out_languages():
    tokenizer = hf.load_tokenizer("language_detection")
    model = hf.load_model("language_detection")
    assert [model.config.id2label[i] for i in range(20)] == list(hf.LANGUAGES)
    test = languages.language_sentences(400, seed=1)
    predicted = inference.classify_manually(model, tokenizer, [text for _, text in test])
    accuracy = sum(p["label"] == code for p, (code, _) in zip(predicted, test)) / len(test)
    assert accuracy >= 0.9, accuracy
    chapter = inference.classify_manually(model, tokenizer, [text for _, text in CHAPTER_06_LANGUAGES])
    assert [p["label"] for p in chapter] == [code for code, _ in CHAPTER_06_LANGUAGES]


def test_translator_translates_unseen_combinations():
    tokenizer = hf.load_tokenizer("translation")
    model = hf.load_model("translation")
    test = languages.translation_pairs("test")
    exact, rows = encoders.check_translations(model, tokenizer, test, max_new_tokens=32)
    assert exact >= 0.8, exact
    assert len(rows) == 2 * len(test) and rows[0][0] == encoders.PREFIXES["de"] + test[0][0]
    # "?" is not in the ci tokenizer: it is <unk>, and decoding leaves it out.
    how = encoders.translate(model, tokenizer, [encoders.PREFIXES["de"] + "How are you?",
                                                encoders.PREFIXES["fr"] + "How are you?"])
    assert how == ["Wie geht es dir", "Comment allez-vous"]


def test_encoder_roles_have_recipes_and_describe_them():
    for role in ("fill_mask", "language_detection", "translation"):
        assert role in standins.RECIPES
        assert "pre-trained here on" in hf.describe(role, profile="ci")


def test_classifier_recipe_refuses_labels_outside_the_head():
    model = hf.load_model("language_detection", pretrained=False)
    tokenizer = hf.load_tokenizer("language_detection")
    with pytest.raises(ValueError, match="not in the model's head"):
        encoders.train_classifier(model, tokenizer, [("xx", "some text")], steps=1)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        encoders.train_classifier(model, tokenizer, [("en", "the film")], steps=0)
    before = model.classifier.out_proj.weight.detach().clone()
    encoders.train_classifier(model, tokenizer, [("en", "the film"), ("fr", "le film")], steps=1,
                              batch_size=2)
    assert not torch.equal(before, model.classifier.out_proj.weight)  # one step trains the head


# --- the generators ----------------------------------------------------------------------------
def test_every_detector_label_has_a_generated_language():
    assert set(languages.LANGUAGE_WORDS) == set(hf.LANGUAGES)
    assert all(len(words) >= 40 for words in languages.LANGUAGE_WORDS.values())


def test_language_sentences_cycle_the_languages_and_repeat():
    pairs = languages.language_sentences(40, seed=3)
    assert pairs == languages.language_sentences(40, seed=3)
    assert pairs != languages.language_sentences(40, seed=4)
    assert [code for code, _ in pairs[:20]] == list(languages.LANGUAGE_WORDS)
    for code, text in pairs:
        words = text[:-1].split()
        assert 3 <= len(words) <= 9 and text[-1] in ".?"
        assert words[0][0].isupper() or not words[0][0].isalpha()
        assert {w.lower() for w in words} <= {w.lower() for w in languages.LANGUAGE_WORDS[code]}
    with pytest.raises(ValueError, match="the codes are"):
        languages.language_sentences(5, languages=("xx",))
    with pytest.raises(ValueError, match=">= 0"):
        languages.language_sentences(-1)


def test_translation_pairs_follow_gender_and_keep_test_apart():
    train, test = languages.translation_pairs("train"), languages.translation_pairs("test")
    assert not {e for e, _, _ in train} & {e for e, _, _ in test}
    assert 0.1 < len(test) / (len(train) + len(test)) < 0.3
    rows = {english: (german, french) for english, german, french in train + test}
    assert rows["The cat is small."] == ("Die Katze ist klein.", "Le chat est petit.")
    assert rows["The house is small."] == ("Das Haus ist klein.", "La maison est petite.")
    assert rows["I see the dog."] == ("Ich sehe den Hund.", "Je vois le chien.")
    assert rows["How are you?"] == ("Wie geht es dir?", "Comment allez-vous?")
    assert all(text.isascii() for row in train + test for text in row)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        languages.translation_pairs("validation")
