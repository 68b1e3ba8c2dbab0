"""Direct Preference Optimization (DPO), written from scratch (chapter 16).

A preference pair is a prompt with two answers, one *chosen* (preferred) and one *rejected*.
DPO (Rafailov et al., 2023) trains a *policy* to raise the chosen answer's log-probability,
relative to a frozen *reference* model (the SFT model it starts from), more than the rejected
one's:

    loss = -log sigmoid(beta * [(log pi(y_w|x) - log ref(y_w|x)) - (log pi(y_l|x) - log ref(y_l|x))])

`beta * (log pi(y|x) - log ref(y|x))` is the answer's *implicit reward*; the loss is a logistic
loss on the difference of the two rewards (the reward margin). Log-probabilities are sums over
the answer's tokens only: the prompt's tokens are masked out (`completion_mask`).

Pairs are tokenized and batched as TRL's `DPOTrainer` does (`tokenize_pair`, `collate_pairs`:
the chosen rows of a batch first, then the rejected ones), so the same batch gives the same loss
and rewards through both (tests/test_dpo.py).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------------------------------------
# Tokenizing and batching pairs
def tokenize_pair(tokenizer, prompt: str, chosen: str, rejected: str, add_eos: bool = True) -> dict[str, list[int]]:
    """prompt_ids, chosen_ids and rejected_ids of one pair, as TRL's DPOTrainer makes them
    (chapter 16): each answer gets the end-of-sequence token, prompt + answer is tokenized as one
    text, and the answer starts where that diverges from the prompt tokenized alone (the earlier
    point of the two answers, so both rows share the same prompt ids)."""
    if not prompt or not chosen or not rejected:
        raise ValueError("a preference pair needs a prompt, a chosen and a rejected answer, none empty")
    eos = tokenizer.eos_token or ""
    if add_eos and eos:
        chosen = chosen if chosen.endswith(eos) else chosen + eos
        rejected = rejected if rejected.endswith(eos) else rejected + eos
    prompt_ids = tokenizer(prompt)["input_ids"]
    with_chosen = tokenizer(prompt + chosen)["input_ids"]
    with_rejected = tokenizer(prompt + rejected)["input_ids"]
    start = min(_common_prefix(prompt_ids, with_chosen), _common_prefix(prompt_ids, with_rejected))
    return {"prompt_ids": prompt_ids[:start], "chosen_ids": with_chosen[start:],
            "rejected_ids": with_rejected[start:]}


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def collate_pairs(features: Sequence[dict], pad_token_id: int,
                  max_length: int | None = None) -> dict[str, torch.Tensor]:
    """A batch of tokenized pairs as one tensor of 2B rows (chapter 16): the B prompt+chosen rows,
    then the B prompt+rejected rows, right-padded with `pad_token_id`; `completion_mask` is 1 on
    the answer's tokens and 0 on the prompt and padding. Sequences longer than `max_length` keep
    their start (TRL's default truncation)."""
    if not features:
        raise ValueError("collate_pairs got no pairs")
    if pad_token_id is None:
        raise ValueError("pad_token_id is None: set tokenizer.pad_token (e.g. to its eos_token) first")
    rows, masks = [], []
    for key in ("chosen_ids", "rejected_ids"):
        for f in features:
            ids = list(f["prompt_ids"]) + list(f[key])
            mask = [0] * len(f["prompt_ids"]) + [1] * len(f[key])
            rows.append(ids[:max_length] if max_length else ids)
            masks.append(mask[:max_length] if max_length else mask)
    if any(sum(m) == 0 for m in masks):
        raise ValueError("a pair has no answer token left (an empty answer, or max_length cut it off): "
                         "raise max_length or shorten the prompt")
    width = max(len(r) for r in rows)
    pad = [width - len(r) for r in rows]
    return {
        "input_ids": torch.tensor([r + [pad_token_id] * p for r, p in zip(rows, pad)]),
        "attention_mask": torch.tensor([[1] * len(r) + [0] * p for r, p in zip(rows, pad)]),
        "completion_mask": torch.tensor([m + [0] * p for m, p in zip(masks, pad)]),
    }


# ---------------------------------------------------------------------------------------------
# Log-probabilities, loss, rewards
def sequence_logprobs(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      completion_mask: torch.Tensor | None = None) -> torch.Tensor:
    """log p(answer | prompt) of each row (chapter 16): the sum over the answer's tokens of the
    log-probability the model gives each one after what precedes it. With `completion_mask=None`
    every non-padding token after the first counts, prompt included (what forgetting the mask does)."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits[:, :-1]
    targets = input_ids[:, 1:]
    mask = (attention_mask if completion_mask is None else completion_mask)[:, 1:].to(logits.dtype)
    token_logps = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (token_logps * mask).sum(dim=-1)


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
             reference_rejected: torch.Tensor, beta: float = 0.1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The DPO sigmoid loss (mean over pairs) and the chosen and rejected implicit rewards,
    `beta * (log pi - log ref)`, detached (chapter 16). Arguments are per-pair log-probabilities."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    chosen_ratio = policy_chosen - reference_chosen
    rejected_ratio = policy_rejected - reference_rejected
    loss = -F.logsigmoid(beta * (chosen_ratio - rejected_ratio)).mean()
    return loss, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


def pair_logprobs(model: nn.Module, batch: dict[str, torch.Tensor],
                  masked: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) log-probabilities of a `collate_pairs` batch under `model` (chapter 16)."""
    logps = sequence_logprobs(model, batch["input_ids"], batch["attention_mask"],
                              batch["completion_mask"] if masked else None)
    return logps.chunk(2)


def check_reference(policy: nn.Module, reference: nn.Module) -> None:
    """Raise unless `reference` is a frozen copy (chapter 16): not the policy itself, no parameter
    shared with it, none trainable, in eval mode. A reference that moves with the policy removes
    the anchor DPO's loss is measured against."""
    if reference is policy:
        raise ValueError("the reference is the policy itself: pass a frozen copy (copy.deepcopy(policy), "
                         "then ftcourse.dpo.freeze_reference)")
    shared = {id(p) for p in policy.parameters()} & {id(p) for p in reference.parameters()}
    if shared:
        raise ValueError(f"the reference shares {len(shared)} parameter tensors with the policy: "
                         "pass a deep copy, not a view")
    trainable = [n for n, p in reference.named_parameters() if p.requires_grad]
    if trainable:
        raise ValueError(f"the reference has trainable parameters ({trainable[0]}, ...): call "
                         "ftcourse.dpo.freeze_reference(reference)")
    if reference.training:
        raise ValueError("the reference is in training mode (dropout on): call freeze_reference(reference)")
    if "forward" in vars(reference):
        raise ValueError("the reference's forward was replaced on the instance (TRL's trainers patch the model "
                         "they train): a deep copy keeps calling the original model's weights. Build the "
                         "reference with ftcourse.dpo.frozen_copy(policy)")


def freeze_reference(model: nn.Module) -> nn.Module:
    """Freeze a model as DPO's reference: no gradients, eval mode (chapter 16). Returns it."""
    model.requires_grad_(False)
    return model.eval()


def frozen_copy(model: nn.Module) -> nn.Module:
    """A frozen reference with `model`'s weights (chapter 16): a fresh instance of its class built
    from its config, the weights loaded into it, so nothing (no patched forward, no shared tensor)
    ties it to `model`. Models without a config are deep-copied."""
    config = getattr(model, "config", None)
    if config is None:
        clone = copy.deepcopy(model)
        vars(clone).pop("forward", None)
    else:
        parameter = next(model.parameters())
        clone = type(model)(config).to(device=parameter.device, dtype=parameter.dtype)
        clone.load_state_dict(model.state_dict())
    return freeze_reference(clone)


# ---------------------------------------------------------------------------------------------
# Metrics
@dataclass
class PreferenceMetrics:
    """Held-out DPO metrics: mean loss, mean implicit rewards, mean margin, share ranked right
    (chosen reward > rejected reward), and the share the policy's own log-probabilities rank right."""

    loss: float
    reward_chosen: float
    reward_rejected: float
    margin: float
    ranked_right: float
    logp_ranked_right: float
    pairs: int

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": v for k, v in self.__dict__.items()}


def batches(pairs: Sequence[dict], batch_size: int, pad_token_id: int, max_length: int | None = None,
            shuffle: bool = False, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """`collate_pairs` batches of tokenized pairs, in order or shuffled with `seed` (chapter 16)."""
    order = list(range(len(pairs)))
    if shuffle:
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(pairs), generator=generator).tolist()
    return [collate_pairs([pairs[i] for i in order[k:k + batch_size]], pad_token_id, max_length)
            for k in range(0, len(order), batch_size)]


@torch.no_grad()
def evaluate_preferences(policy: nn.Module, reference: nn.Module, loader: Iterable[dict], beta: float = 0.1,
                         masked: bool = True) -> PreferenceMetrics:
    """Loss, rewards, margin and ranked-right share of `policy` against `reference` over the
    batches of `loader` (chapter 16)."""
    was_training = policy.training
    policy.eval()
    device = next(policy.parameters()).device
    sums = dict(loss=0.0, chosen=0.0, rejected=0.0, right=0.0, logp_right=0.0)
    n = 0
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        pc, pr = pair_logprobs(policy, batch, masked)
        rc, rr = pair_logprobs(reference, batch, masked)
        losses = -F.logsigmoid(beta * ((pc - rc) - (pr - rr)))
        chosen, rejected = beta * (pc - rc), beta * (pr - rr)
        sums["loss"] += float(losses.sum())
        sums["chosen"] += float(chosen.sum())
        sums["rejected"] += float(rejected.sum())
        sums["right"] += float((chosen > rejected).sum())
        sums["logp_right"] += float((pc > pr).sum())
        n += len(pc)
    policy.train(was_training)
    if n == 0:
        raise ValueError("no pairs to evaluate")
    return PreferenceMetrics(sums["loss"] / n, sums["chosen"] / n, sums["rejected"] / n,
                             (sums["chosen"] - sums["rejected"]) / n, sums["right"] / n, sums["logp_right"] / n, n)


# ---------------------------------------------------------------------------------------------
# Training
@dataclass
class DPOHistory:
    """Per-step training loss, margin and ranked-right share of a `train_dpo` run."""

    loss: list[float] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)
    ranked_right: list[float] = field(default_factory=list)


def train_dpo(policy: nn.Module, reference: nn.Module, pairs: Sequence[dict], *, pad_token_id: int,
              beta: float = 0.1, lr: float = 5e-7, epochs: int = 1, batch_size: int = 8,
              max_length: int | None = None, max_grad_norm: float = 1.0, seed: int = 0,
              max_steps: int | None = None, check: bool = True, progress: bool = True) -> DPOHistory:
    """Train `policy` with the DPO loss against a frozen `reference` on tokenized pairs
    (`tokenize_pair`), AdamW with gradient clipping, mixed precision on a GPU (chapter 16).

    The reference is checked before and after (`check_reference`): frozen, in eval mode, sharing
    nothing with the policy. `check=False` lets the chapter show what happens without that.
    """
    from tqdm.auto import tqdm

    from ftcourse import training_precision

    if check:
        check_reference(policy, reference)
    if not pairs:
        raise ValueError("train_dpo got no pairs")
    device = next(policy.parameters()).device
    precision = training_precision(device)
    dtype = precision.autocast_dtype
    scaler = torch.amp.GradScaler(device.type, enabled=precision.loss_scaling)
    params = [p for p in policy.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the policy has no trainable parameter")
    optimizer = torch.optim.AdamW(params, lr=lr)
    history = DPOHistory()
    policy.train()
    steps = 0
    total = math.ceil(len(pairs) / batch_size) * epochs
    bar = tqdm(total=total if max_steps is None else min(total, max_steps), desc="DPO", disable=not progress,
               mininterval=1.0, leave=False)
    for epoch in range(epochs):
        for batch in batches(pairs, batch_size, pad_token_id, max_length, shuffle=True, seed=seed + epoch):
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                with torch.no_grad():
                    rc, rr = pair_logprobs(reference, batch)
                pc, pr = pair_logprobs(policy, batch)
                loss, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            history.loss.append(float(loss.detach()))
            history.margin.append(float((chosen - rejected).mean()))
            history.ranked_right.append(float((chosen > rejected).float().mean()))
            steps += 1
            bar.update(1)
            if max_steps is not None and steps >= max_steps:
                break
        if max_steps is not None and steps >= max_steps:
            break
    bar.close()
    policy.eval()
    if check:
        check_reference(policy, reference)
    return history


__all__ = [
    "DPOHistory",
    "PreferenceMetrics",
    "batches",
    "check_reference",
    "collate_pairs",
    "dpo_loss",
    "evaluate_preferences",
    "freeze_reference",
    "frozen_copy",
    "pair_logprobs",
    "sequence_logprobs",
    "tokenize_pair",
    "train_dpo",
]
