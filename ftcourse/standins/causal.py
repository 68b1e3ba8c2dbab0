"""The ci stand-ins of the causal language models: "generation" (tiny GPT-2, chapters 06 and 12)
and "sft" (tiny OPT, chapters 07, 11, 16 and 17), pre-trained here on the generated small world.

On `full` GPT-2 and OPT-350m have read the web: they continue a story and complete "The capital of
Peru is" with "Lima", but do not answer `### Human:` questions until chapter 11 tunes them. Their
ci stand-ins learn the same way, next-token prediction on plain text: the world's facts as
statements (`corpora.world_sentences`), with stories for chapter 06's "Once upon a time" and film
opinions for chapter 07's "This movie was really". No conversation is in the text.
"""

from __future__ import annotations

from collections.abc import Sequence

from ftcourse.corpora.world import world_sentences
from ftcourse.standins.base import Recipe

# The sums are 100 facts, the other kinds 12-16 each: drawn as often as the others, each sum
# would be read six times less and most stay unlearnt in the budget of seconds.
FACTS = ("capital", "add", "opposite", "add", "legs", "add", "plural", "add")


def train_causal_lm(model, tokenizer, examples: Sequence[str], *, steps: int, lr: float,
                    batch_size: int, seed: int = 0) -> None:
    """Pre-train a causal LM in place on `examples` by next-token prediction: AdamW, a linear
    decay, random batches; each text ends with the end-of-text token, and padding is left out of
    the loss. The same result every run (seeded here). Chapter 06."""
    import torch

    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps} and {batch_size}")
    texts = [t + tokenizer.eos_token for t in examples]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
        batches = _length_batches([len(e) for e in encoded], batch_size, steps)
        model.eval()  # dropout off: seconds of memorising a small world leave nothing to regularise
        for batch in batches:
            rows = [encoded[i] for i in batch]
            width = max(map(len, rows))
            ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
            labels = ids.masked_fill(mask == 0, -100)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()


def complete_statements(model, tokenizer, statements: Sequence[str],
                        max_new_tokens: int = 8) -> list[tuple[str, str, str, bool]]:
    """Ask a causal LM to finish each statement cut before its last word ("The capital of Peru
    is" for "... is Lima."), greedily: (prompt, expected word, continuation, right) per statement.
    What a base model knows before chapter 11 tunes it to answer questions."""
    import torch

    rows = []
    model.eval()
    for statement in statements:
        prompt, last = statement.rsplit(" ", 1)
        answer = last.rstrip(".")
        batch = tokenizer(prompt, return_tensors="pt").to(model.device)
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.eos_token_id)
        text = tokenizer.decode(out[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        right = text.startswith(" " + answer) and not text[len(answer) + 1:][:1].isalnum()
        rows.append((prompt, answer, text, right))
    return rows


def _length_batches(lengths: list[int], batch_size: int, steps: int) -> list[list[int]]:
    # Random batches within bands of 24 tokens: a story padded beside short statements would
    # triple the tokens a step computes, while sorting by exact length would give batches of one
    # kind of fact each, which learn worse. Torch's seeded RNG.
    import torch

    bands: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        bands.setdefault(n // 24, []).append(i)
    batches: list[list[int]] = []
    while len(batches) < steps:
        for band in bands.values():
            order = [band[i] for i in torch.randperm(len(band)).tolist()]
            batches += [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    picks = torch.randperm(len(batches)).tolist()
    return [batches[i] for i in picks][:steps]


SETTINGS = {"steps": 800, "lr": 5e-3, "batch_size": 16}
GENERATION = Recipe(
    examples=lambda: world_sentences(2000, kinds=(*FACTS, "story")),
    train=train_causal_lm,
    describe="2,000 generated texts of the small world (its facts as statements, and short stories) "
             "for 800 steps (8-16 s on one CPU thread)",
    settings=SETTINGS,
)
SFT = Recipe(
    examples=lambda: world_sentences(2000, kinds=(*FACTS, "review")),
    train=train_causal_lm,
    describe="2,000 generated texts of the small world (its facts as statements, and film opinions) "
             "for 800 steps (8-16 s on one CPU thread)",
    settings=SETTINGS,
)
