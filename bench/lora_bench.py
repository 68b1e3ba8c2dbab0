"""What LoRA costs at run time, measured side by side on one machine.

1. Forward pass of a LoRA model, merged and unmerged, against the base model it wraps
   (merged should cost nothing: the forward uses the base layer alone).
2. One training step (forward, backward, AdamW) with ftcourse's LoRA against PEFT's, same
   model, same targets, same rank.

A mid-size BertModel (random weights, no download) keeps the run under a minute on a 2-core
machine, with one torch thread by default. Repetitions are interleaved, so drift in machine
load hits every variant alike, and the medians are reported.

    python bench/lora_bench.py [--repeats 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

from ftcourse.adapt.lora import LinearWithLoRA, apply_lora, merge_lora

CONFIG = dict(
    vocab_size=8000,
    hidden_size=256,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=1024,
    max_position_embeddings=256,
)
BATCH, LENGTH, RANK, ALPHA, TARGETS = 8, 128, 8, 16, ["query", "value"]


def timed(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call. On a shared machine the CPU time (all of this
    process's threads) is the steadier of the two: other people's jobs stretch the wall clock."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def forward(model: nn.Module, ids: torch.Tensor):
    def run() -> None:
        with torch.no_grad():
            model(input_ids=ids)

    return run


def train_step(model: nn.Module, ids: torch.Tensor):
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def run() -> None:
        optimiser.zero_grad(set_to_none=True)
        model(input_ids=ids).last_hidden_state.pow(2).mean().backward()
        optimiser.step()

    return run


def wrapper_overhead_us(model: nn.Module, calls: int = 20_000) -> float:
    """Microseconds a merged LinearWithLoRA adds over calling its base Linear, on a tiny input."""
    layer = next(m for m in model.modules() if isinstance(m, LinearWithLoRA))
    x = torch.randn(1, layer.in_features)
    with torch.no_grad():
        runs = {name: [] for name in ("wrapper", "linear")}
        for _ in range(5):
            for name, module in (("wrapper", layer), ("linear", layer.linear)):
                start = time.perf_counter()
                for _ in range(calls // 5):
                    module(x)
                runs[name].append(time.perf_counter() - start)
    return (min(runs["wrapper"]) - min(runs["linear"])) / (calls // 5) * 1e6


def interleaved(variants: dict, repeats: int, warmup: int = 2) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per variant; each round runs every variant once, in a rotating order."""
    names = list(variants)
    samples: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for round_ in range(warmup + repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = variants[name]()
            if round_ >= warmup:
                samples[name].append(seconds)
    return {n: tuple(statistics.median(column) for column in zip(*s)) for n, s in samples.items()}


def report(title: str, results: dict[str, tuple[float, float]], reference: str) -> None:
    wall0, cpu0 = results[reference]
    print(f"\n{title:<34} wall s   ratio    CPU s   ratio   (ratios to {reference})")
    for name, (wall, cpu) in results.items():
        print(f"  {name:<32} {wall:6.3f}  {wall / wall0:6.3f}x  {cpu:6.3f}  {cpu / cpu0:6.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    # One thread by default: on a small machine shared with other jobs, two threads spend their
    # time waiting for each other and the ratios drown in noise; one thread measures steadily.
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import peft
    import transformers

    torch.manual_seed(0)
    base = transformers.BertModel(transformers.BertConfig(**CONFIG)).eval()
    ids = torch.randint(0, CONFIG["vocab_size"], (BATCH, LENGTH))
    ours = copy.deepcopy(base)
    apply_lora(ours, TARGETS, rank=RANK, alpha=ALPHA)
    with torch.no_grad():  # a trained-looking B, so merging has something to fold in
        for name, param in ours.named_parameters():
            if name.endswith(".lora.B"):
                param.normal_(std=0.02)
    merged = copy.deepcopy(ours)
    merge_lora(merged)
    with torch.no_grad():  # the merged and unmerged models must compute the same thing
        gap = (
            (merged(input_ids=ids).last_hidden_state - ours(input_ids=ids).last_hidden_state)
            .abs()
            .max()
        )

    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(
        f"BertModel {CONFIG}, {sum(p.numel() for p in base.parameters()):,} parameters; "
        f"batch {BATCH} x {LENGTH} tokens; LoRA r={RANK} alpha={ALPHA} on {TARGETS}; "
        f"medians of interleaved runs ({3 * args.repeats} forwards, {args.repeats} steps) after 2 warm-up rounds"
    )
    print(f"merged vs unmerged output: max |difference| {gap:.2e}")

    start = time.perf_counter()
    fwd = interleaved(
        {
            "base": lambda: timed(forward(base, ids)),
            "lora merged": lambda: timed(forward(merged, ids)),
            "lora unmerged": lambda: timed(forward(ours, ids)),
        },
        3 * args.repeats,  # forwards are short: more of them to steady the median
    )
    report("forward, no_grad (medians)", fwd, "base")
    print(
        f"  what a merged layer adds by itself: {wrapper_overhead_us(merged):.1f} us per call, "
        f"{2 * CONFIG['num_hidden_layers']} calls per forward"
    )

    theirs = peft.get_peft_model(
        copy.deepcopy(base), peft.LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=TARGETS)
    )
    ours.train()
    theirs.train()
    step_ours, step_theirs = train_step(ours, ids), train_step(theirs, ids)
    steps = interleaved(
        {"ftcourse": lambda: timed(step_ours), "peft": lambda: timed(step_theirs)}, args.repeats
    )
    report("training step, fwd+bwd+AdamW", steps, "peft")
    merged_ratio = fwd["lora merged"][0] / fwd["base"][0]
    step_ratio = steps["ftcourse"][0] / steps["peft"][0]
    print(
        f"\nmerged forward {merged_ratio:.3f}x base (target <= 1.01x: {'met' if merged_ratio <= 1.01 else 'missed'}); "
        f"ftcourse step {step_ratio:.3f}x peft (target <= 1.10x: {'met' if step_ratio <= 1.10 else 'missed'}); "
        f"wall-clock ratios, measured in {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
