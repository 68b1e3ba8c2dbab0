"""Inference by hand: what `pipeline()` does, step by step (chapter 06).

Text classification (tokenizer -> model -> logits -> softmax -> argmax -> label), fill-mask
(the most probable tokens at the mask) and greedy decoding for decoder-only and encoder-decoder
models, each written out so the chapter can show its code beside the pipeline that hides it and
check that both give the same answer.
"""

from __future__ import annotations


def _encode(tokenizer, texts, model, max_length: int | None = None):
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError("give one or more non-empty texts")
    padding = tokenizer.pad_token is not None and len(texts) > 1
    if len(texts) > 1 and not padding:
        raise ValueError("this tokenizer has no padding token: pass one text at a time")
    encoded = tokenizer(texts, return_tensors="pt", padding=padding, truncation=max_length is not None,
                        max_length=max_length)
    return encoded.to(model.device)


def classify_manually(model, tokenizer, texts, max_length: int | None = None) -> list[dict]:
    """Text classification without `pipeline()`: tokenizer -> model -> logits -> softmax -> argmax
    -> `id2label`. One {"label", "score"} per text, as the text-classification pipeline returns."""
    import torch

    encoded = _encode(tokenizer, texts, model, max_length)
    model.eval()
    with torch.no_grad():
        logits = model(**encoded).logits  # [texts, classes], unnormalised scores
    probs = torch.softmax(logits.float(), dim=-1)  # each row sums to 1
    scores, ids = probs.max(dim=-1)  # argmax: the most probable class and its probability
    return [{"label": model.config.id2label[int(i)], "score": float(s)} for i, s in zip(ids, scores)]


def fill_mask_manually(model, tokenizer, text: str, top_k: int = 5) -> list[dict]:
    """Fill-mask without `pipeline()`: the `top_k` most probable tokens at the one mask in `text`,
    as {"token", "token_str", "score"} (the fill-mask pipeline's keys)."""
    import torch

    encoded = _encode(tokenizer, text, model)
    where = (encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(where) != 1:
        raise ValueError(f"the text must hold exactly one {tokenizer.mask_token}, it holds {len(where)}")
    model.eval()
    with torch.no_grad():
        logits = model(**encoded).logits[0, int(where[0])]  # scores for every token of the vocabulary
    scores, ids = torch.softmax(logits.float(), dim=-1).topk(top_k)
    return [{"token": int(i), "token_str": tokenizer.decode([int(i)]), "score": float(s)}
            for i, s in zip(ids, scores)]


def greedy_generate(model, input_ids, attention_mask=None, max_new_tokens: int = 20):
    """Greedy decoding written out: pick the most probable next token, append it, repeat, stop at
    the end-of-sequence token. Works for decoder-only (GPT-2) and encoder-decoder (T5) models.

    Returns (sequences, logits): sequences laid out as `model.generate` returns them (the prompt
    and the new tokens for a decoder; the decoder start token and the new tokens for T5), and the
    logits of each step. No key-value cache: each step runs the model on everything so far.
    """
    import torch

    if input_ids.shape[0] != 1:
        raise ValueError("greedy_generate decodes one text at a time (a batch needs padding rules)")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    eos = model.generation_config.eos_token_id
    eos = set(eos) if isinstance(eos, list) else {eos}
    model.eval()
    steps = []
    with torch.no_grad():
        if model.config.is_encoder_decoder:
            encoder_outputs = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
            sequence = torch.tensor([[model.config.decoder_start_token_id]], device=input_ids.device)
        else:
            sequence = input_ids
        for _ in range(max_new_tokens):
            if model.config.is_encoder_decoder:
                out = model(encoder_outputs=encoder_outputs, attention_mask=attention_mask,
                            decoder_input_ids=sequence)
            else:
                out = model(input_ids=sequence, attention_mask=torch.ones_like(sequence))
            logits = out.logits[:, -1, :]  # the scores for the next token
            steps.append(logits)
            next_id = logits.argmax(dim=-1, keepdim=True)  # greedy: the most probable one
            sequence = torch.cat([sequence, next_id], dim=-1)
            if int(next_id) in eos:
                break
    return sequence, steps




def label_accuracy(items, predicted, to_label) -> float:
    """Share of `(gold, text)` items whose predicted label string equals `to_label(gold)` (a
    mapping's `.get` or any callable); items whose gold maps to None are left out. For comparing a
    pipeline's or a served model's labels with a dataset's ids (chapters 06 and 15)."""
    predicted = list(predicted)
    if len(predicted) != len(items):
        raise ValueError(f"got {len(predicted)} predictions for {len(items)} items; pass one per item")
    pairs = [(to_label(gold), label) for (gold, _), label in zip(items, predicted) if to_label(gold) is not None]
    if not pairs:
        raise ValueError("no item has a gold label that to_label maps to a label name")
    return sum(gold == label for gold, label in pairs) / len(pairs)
