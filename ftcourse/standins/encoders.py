"""Recipes for the encoder-side ci stand-ins of chapter 06: the fill-mask BERT, the language
detector (XLM-RoBERTa with a 20-language head) and the translator (T5).

Each trains the tiny random model of its family for a few seconds on generated text, as the hub
model was pre-trained on the web: BERT masks 15% of the tokens of statements about the small world
(`corpora.world_sentences`) and of short movie verdicts; XLM-RoBERTa learns to name the language of
sentences made of each language's common words (`corpora.languages`); T5 learns the English to
German and English to French sentences of a small lexicon, behind T5's own task prefixes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

import torch

from ftcourse.corpora.common import NEGATIVE, POSITIVE
from ftcourse.corpora.languages import PHRASES, language_sentences, translation_pairs
from ftcourse.corpora.reviews import ASPECTS
from ftcourse.corpora.world import world_sentences
from ftcourse.inference import fill_mask_manually
from ftcourse.standins.base import Recipe

# T5's task prefixes, as the hub's t5-small was trained with them.
PREFIXES = {"de": "translate English to German: ", "fr": "translate English to French: "}
# Capitals and opposites twice as often as sums: 16 facts each, looked up from one word.
WORLD_KINDS = ("capital", "opposite", "add", "capital", "opposite")
VERDICTS = ("This is a {w} movie!", "What a {w} film!", "It was a {w} story.", "The {a} was {w}.",
            "This is a {w} film.", "The {a} was {w} and the {a2} was {w2}.")


def _steps(n_examples: int, batch_size: int, steps: int, seed: int) -> Iterator[list[int]]:
    """`steps` batches of example indices: shuffled epochs, the same every run for the same seed."""
    rng = random.Random(seed)
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            order += rng.sample(range(n_examples), n_examples)
        yield order[:batch_size]
        del order[:batch_size]


def _reinit(model, std: float) -> None:
    """Draws the weights of a BERT-like model afresh from N(0, std), as its `initializer_range`
    does. The hub configs' 0.02 suits hidden size 768; at hidden size 64 attention learns to look
    a word up several times faster from about 1/sqrt(64)."""
    model.config.initializer_range = std
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            torch.nn.init.normal_(module.weight, std=std)
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            torch.nn.init.zeros_(module.bias)
    model.tie_weights()  # the MLM decoder shares the word embeddings


def _train(model, batches: Iterator[dict], lr: float, steps: int, seed: int,
           init_std: float | None = None, loss: Callable[[dict], torch.Tensor] | None = None) -> None:
    """AdamW with linear warm-up and decay over `steps` batches, no dropout, the caller's random
    state untouched; with `init_std`, the weights are first drawn afresh (`_reinit`)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if init_std is not None:
            _reinit(model, init_std)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        warmup = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
        model.train()
        for module in model.modules():  # no dropout: seconds of training, nothing to regularise
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        for batch in batches:
            value = loss(batch) if loss is not None else model(**batch).loss
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
    model.eval()


# ---------------------------------------------------------------------------------------------
# Fill-mask: BERT's masked language modelling on the small world and on short verdicts
def fill_mask_examples(n_world: int = 1800, n_verdicts: int = 200, seed: int = 0,
                       kinds: tuple[str, ...] = WORLD_KINDS) -> list[str]:
    """The fill-mask stand-in's pre-training text: statements of the world's capitals, opposites,
    legs and sums, and short movie verdicts with an evaluative word (chapter 06)."""
    rng = random.Random(f"verdicts:{seed}")
    words = POSITIVE + NEGATIVE
    verdicts = [rng.choice(VERDICTS).format(w=rng.choice(words), w2=rng.choice(words),
                                            a=rng.choice(ASPECTS), a2=rng.choice(ASPECTS))
                for _ in range(n_verdicts)]
    return world_sentences(n_world, seed=seed, kinds=kinds) + verdicts


def masked_world_facts(tokenizer, n: int = 300, seed: int = 1,
                       kinds: tuple[str, ...] = ("capital", "opposite", "add")) -> list[tuple[str, str]]:
    """(statement with its answer masked, answer) for `n` world statements of `seed` (the stand-in
    reads seed 0), kept where the answer is one token of `tokenizer`, so one mask can hold it:
    "The capital of France is [MASK]." -> "paris". Chapter 06 checks a fill-mask model on them."""
    facts = []
    for sentence in world_sentences(n, seed=seed, kinds=kinds):
        if " is the capital of " in sentence:  # "Paris is the capital of France."
            answer, rest = sentence.split(" ", 1)
            masked = f"{tokenizer.mask_token} {rest}"
        else:  # "The capital of France is Paris.", "The opposite of ...", "Two plus two is four."
            head, answer = sentence[:-1].rsplit(" ", 1)
            masked = f"{head} {tokenizer.mask_token}."
        answer = answer.lower() if getattr(tokenizer, "do_lower_case", False) else answer
        if len(tokenizer.tokenize(answer)) == 1:
            facts.append((masked, answer))
    return facts


def check_world_facts(model, tokenizer, facts: Sequence[tuple[str, str]] | None = None
                      ) -> tuple[float, list[tuple[str, str, str]]]:
    """Fill each masked world fact (`masked_world_facts`) by hand, top 1: the share answered right,
    and (masked statement, expected, answer) rows. Chapter 06 and the stand-in's test use it."""
    facts = masked_world_facts(tokenizer) if facts is None else facts
    if not facts:
        raise ValueError("no facts to check: masked_world_facts found no single-token answers")
    rows = [(masked, answer, fill_mask_manually(model, tokenizer, masked, top_k=1)[0]["token_str"])
            for masked, answer in facts]
    return sum(got == answer for _, answer, got in rows) / len(rows), rows


def train_masked_lm(model, tokenizer, examples: Sequence[str], steps: int = 800, batch_size: int = 32,
                    lr: float = 3e-3, mlm_probability: float = 0.15, init_std: float = 0.1,
                    seed: int = 0) -> None:
    """Masked language modelling as BERT was pre-trained: `DataCollatorForLanguageModeling` hides
    15% of the tokens (80% [MASK], 10% random, 10% kept) and the model restores them (chapter 06)."""
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability, seed=seed)
    ids = tokenizer(list(examples))["input_ids"]
    batches = (collator([{"input_ids": ids[i]} for i in idx])
               for idx in _steps(len(ids), batch_size, steps, seed))

    def masked_loss(batch: dict) -> torch.Tensor:
        # BertForMaskedLM's loss, with vocabulary scores only where a token was masked
        hidden = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
        masked = batch["labels"] != -100
        return torch.nn.functional.cross_entropy(model.cls(hidden[masked]), batch["labels"][masked])

    _train(model, batches, lr, steps, seed, init_std, masked_loss)


# ---------------------------------------------------------------------------------------------
# Language detection: a 20-way classifier over generated sentences
def language_examples(n: int = 3000, seed: int = 0) -> list[tuple[str, str]]:
    """(language code, sentence) pairs in the 20 languages of the detector's head (chapter 06)."""
    return language_sentences(n, seed=seed)


def train_classifier(model, tokenizer, examples: Sequence[tuple[str, str]], steps: int = 300,
                     batch_size: int = 32, lr: float = 3e-3, init_std: float | None = None,
                     seed: int = 0) -> None:
    """Trains body and head to give each (label, text) example its label, the label's id read from
    the model's `label2id` (chapter 06)."""
    label2id = model.config.label2id
    missing = sorted({label for label, _ in examples} - set(label2id))
    if missing:
        raise ValueError(f"labels {missing} are not in the model's head {sorted(label2id)}: build "
                         "the model with those labels (id2label=...)")
    texts = [text for _, text in examples]
    labels = [label2id[label] for label, _ in examples]

    def batch(idx: list[int]) -> dict:
        encoded = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True)
        return {**encoded, "labels": torch.tensor([labels[i] for i in idx])}

    _train(model, (batch(idx) for idx in _steps(len(texts), batch_size, steps, seed)), lr, steps, seed,
           init_std)


# ---------------------------------------------------------------------------------------------
# Translation: T5 on English to German and English to French sentences of a small lexicon
def translation_examples(phrase_repeats: int = 8) -> list[tuple[str, str]]:
    """(prompt, target) pairs: each training sentence behind T5's German and French prefixes, the
    fixed phrases ("How are you?") `phrase_repeats` times, as common phrases are common on the web."""
    rows = translation_pairs("train") + list(PHRASES) * (phrase_repeats - 1)
    return [(PREFIXES[lang] + english, target) for english, german, french in rows
            for lang, target in (("de", german), ("fr", french))]


def translate(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 24) -> list[str]:
    """Greedy translations of `prompts` (each with its T5 prefix), batched, on the model's device."""
    batch = tokenizer(list(prompts), return_tensors="pt", padding=True).to(model.device)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.batch_decode(out, skip_special_tokens=True)


def check_translations(model, tokenizer, pairs: Sequence[tuple[str, str, str]], max_new_tokens: int = 24
                       ) -> tuple[float, list[tuple[str, str, str]]]:
    """Translate each (English, German, French) pair into both languages: the share translated
    exactly, and (prompt, expected, translation) rows. The expected text is compared as the
    tokenizer decodes it (on ci "?" is <unk>, which decoding drops). Chapter 06 and the test."""
    if not pairs:
        raise ValueError("no pairs to translate: give (English, German, French) triples")
    prompts = [PREFIXES[lang] + english for english, *_ in pairs for lang in ("de", "fr")]
    wanted = [tokenizer.decode(tokenizer(target)["input_ids"], skip_special_tokens=True)
              for _, german, french in pairs for target in (german, french)]
    got = translate(model, tokenizer, prompts, max_new_tokens)
    rows = list(zip(prompts, wanted, got))
    return sum(w == g for _, w, g in rows) / len(rows), rows


def train_seq2seq(model, tokenizer, examples: Sequence[tuple[str, str]], steps: int = 400,
                  batch_size: int = 32, lr: float = 3e-3, init_std: float | None = None,
                  seed: int = 0) -> None:
    """Teacher-forced sequence-to-sequence training: the encoder reads the prompt, the decoder
    learns the target token by token (padding left out of the loss). Chapter 06."""
    prompts = [prompt for prompt, _ in examples]
    targets = [target for _, target in examples]

    def batch(idx: list[int]) -> dict:
        encoded = tokenizer([prompts[i] for i in idx], text_target=[targets[i] for i in idx],
                            return_tensors="pt", padding=True)
        encoded["labels"][encoded["labels"] == tokenizer.pad_token_id] = -100
        return dict(encoded)

    _train(model, (batch(idx) for idx in _steps(len(prompts), batch_size, steps, seed)), lr, steps, seed,
           init_std)


FILL_MASK = Recipe(
    examples=fill_mask_examples, train=train_masked_lm,
    describe="the small world's capitals, opposites and sums and short movie verdicts "
             "(masked language modelling)",
    settings={"steps": 1500, "batch_size": 32, "lr": 3e-3, "mlm_probability": 0.15, "init_std": 0.1,
              "seed": 0},
)
LANGUAGE_DETECTION = Recipe(
    examples=language_examples, train=train_classifier,
    describe="sentences of each of its 20 languages' common words (Latin transliteration where "
             "the script is not Latin)",
    settings={"steps": 400, "batch_size": 32, "lr": 3e-3, "init_std": 0.1, "seed": 0},
)
TRANSLATION = Recipe(
    examples=translation_examples, train=train_seq2seq,
    describe="English to German and French sentences of a small lexicon (8 nouns, 8 adjectives, "
             "4 fixed phrases)",
    settings={"steps": 420, "batch_size": 16, "lr": 3e-3, "seed": 0},
)
