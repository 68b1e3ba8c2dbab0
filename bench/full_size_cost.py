"""What each chapter's `full` run costs, measured on the real architectures at their real sizes.

    python bench/full_size_cost.py                 # every workload, 3 timed steps each
    python bench/full_size_cost.py --steps 1 --only 05 11 --json ftcourse/measured/full_size_cost_cpu.json

Every model is built from its published configuration (`ftcourse.catalog.full_config`, the
values of the hub's config.json) with random weights, so nothing is downloaded. Each workload
trains on random token ids (or images) of the chapter's `full` batch size and sequence length,
with the optimiser the chapter uses (AdamW), in the precision `ftcourse` picks for the device.
One warm-up step is not timed. It prints, per workload: seconds per step, peak memory, the
floating-point operations of one step (counted by torch.utils.flop_counter during the warm-up),
and the projected time of the chapter's training: steps of its `full` run x seconds per step.
Evaluation, tokenisation and downloads are not included. Sequences are padded to the full
length, so for chapters with dynamic padding the projection is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class Workload:
    """One training run of a chapter's `full` profile, with its sizes (from the chapter's parameters cell)."""

    chapter: str
    name: str
    build: str  # what to build, see `build()`
    batch: int
    length: int  # tokens per example (or pixels per side for images)
    examples: int  # training examples per epoch
    epochs: int
    runs: int = 1  # how many runs of this shape the chapter trains


WORKLOADS = [
    # 05: 8,000 IMDB training reviews (full's default; the source's 23,750 are `--set
    # TRAIN_SIZE=None` away), BERT-base, batch 32, 256 word pieces, 2 epochs.
    Workload("05", "BERT-base, full fine-tuning", "bert_full", 32, 256, 8_000, 2),
    Workload("05", "BERT-base, head only", "bert_head_only", 32, 256, 8_000, 2),
    Workload("05", "BERT-base, Houlsby adapters b64", "bert_adapters", 32, 256, 8_000, 2),
    Workload("05", "BERT-base, LoRA r8 q/v", "bert_lora", 32, 256, 8_000, 2),
    # 07: masked-LM pre-training of BERT-base from scratch, blocks of 128, batch 16, 10 epochs, on
    # 1,000 WikiText-2 rows. At most 781 blocks: the first 1,000 non-empty lines of the WikiText-2
    # sample in ../shared/data are 99,972 bert-base-uncased word pieces; the hub's rows include
    # blank ones, so the real count is lower.
    Workload("07", "BERT-base masked LM", "bert_mlm", 16, 128, 781, 10),
    # 08: bert-base-cased, 5 Yelp classes, 1,000 reviews of up to 512 tokens, batch 8, 10 epochs.
    Workload("08", "bert-base-cased, 5 classes", "bert_cased_5", 8, 512, 1_000, 10),
    # 09: DistilBERT full fine-tuning on 2,000 AG News articles, 256 tokens, batch 16, 2 epochs.
    Workload("09", "DistilBERT, 4 classes", "distilbert_4", 16, 256, 2_000, 2),
    # 10: bert-base-cased token classification, 2,000 CoNLL sentences, batch 8, 1 epoch; batches
    # are padded to their longest sentence, taken here as 64 word pieces.
    Workload("10", "bert-base-cased, 9 NER tags", "bert_ner", 8, 64, 2_000, 1),
    # 11: OPT-350m SFT on 9,846 guanaco conversations, batch 2, up to 1,024 tokens, 1 epoch on
    # full (the source's 10 are `--set EPOCHS=10` away).
    Workload("11", "OPT-350m SFT, 1 epoch", "opt350m", 2, 1024, 9_846, 1),
    # 12: GPT-2 prompt tuning and LoRA, 2,000 conversations, batch 8, 512 tokens, 1 epoch each.
    Workload("12", "GPT-2 LoRA c_attn/c_proj r8", "gpt2_lora", 8, 512, 2_000, 1),
    Workload("12", "GPT-2 prompt tuning (20 tokens)", "gpt2_prompt", 8, 512, 2_000, 1),
    # 13: DistilBERT with a bottleneck adapter, 2,000 articles, batch 16, 256 tokens, 1 epoch.
    Workload("13", "DistilBERT, adapters", "distilbert_adapters", 16, 256, 2_000, 1),
    # 14: ResNet-18 at 224x224 on 25,000 CIFAR-10 images (5 classes), batch 64, 5 epochs, two
    # strategies: the head only, and the last two stages.
    Workload("14", "ResNet-18, head only", "resnet_head", 64, 224, 25_000, 5),
    Workload("14", "ResNet-18, last two stages", "resnet_last2", 64, 224, 25_000, 5),
    # 15: the SST-2 DistilBERT fine-tuned further on 2,000 IMDB reviews, 256 tokens, batch 16.
    Workload("15", "DistilBERT SST-2, 1 epoch", "distilbert_sst2", 16, 256, 2_000, 1),
    # 16: OPT-350m SFT on the chosen answers of 2,000 Intel/orca_dpo_pairs pairs (batch 4, 512
    # tokens), then DPO on the pairs (2 pairs a step: 4 sequences through the policy, forward and
    # backward, and through the frozen reference, forward only), 1 epoch each.
    Workload("16", "OPT-350m SFT on chosen answers", "opt350m_chosen", 4, 512, 2_000, 1),
    Workload("16", "OPT-350m DPO, frozen reference", "opt350m_dpo", 2, 512, 2_000, 1),
    # 17: OPT-350m with its linear layers in NF4 (ftcourse.quant), LoRA r64 on every one of them,
    # 2,000 conversations, batch 8, 512 tokens, 1 epoch.
    Workload("17", "OPT-350m QLoRA r64, all linear", "opt350m_qlora", 8, 512, 2_000, 1),
]


def build(kind: str) -> tuple[nn.Module, str]:
    """The model of a workload (random weights from the published config) and its input kind."""
    import transformers

    from ftcourse.adapt import freeze, unfreeze
    from ftcourse.adapt.adapters import add_bert_adapters
    from ftcourse.adapt.lora import apply_lora
    from ftcourse.catalog import full_config
    from ftcourse.vision import load_resnet18, replace_resnet_head

    if kind.startswith("bert_") and kind not in ("bert_mlm", "bert_cased_5", "bert_ner"):
        model = transformers.BertForSequenceClassification(full_config("bert_uncased"))
        if kind != "bert_full":
            freeze(model)
            unfreeze(model, "classifier.*")
        if kind == "bert_adapters":
            add_bert_adapters(model, bottleneck=64, train_modules=("classifier",))
        elif kind == "bert_lora":
            apply_lora(model, ["query", "value"], rank=8, alpha=32, train_modules=("classifier",))
        return model, "tokens"
    if kind == "bert_mlm":
        return transformers.BertForMaskedLM(full_config("bert_uncased")), "mlm"
    if kind == "bert_cased_5":
        config = full_config("bert_cased")
        config.num_labels = 5
        return transformers.BertForSequenceClassification(config), "tokens"
    if kind == "bert_ner":
        config = full_config("bert_cased")
        config.num_labels = 9
        return transformers.BertForTokenClassification(config), "tags"
    if kind.startswith("distilbert"):
        role = "sentiment" if kind == "distilbert_sst2" else "distilbert"
        config = full_config(role)
        if kind != "distilbert_sst2":
            config.num_labels = 4
        model = transformers.DistilBertForSequenceClassification(config)
        if kind == "distilbert_adapters":
            freeze(model)
            unfreeze(model, "classifier.*")
            unfreeze(model, "pre_classifier.*")
            add_bert_adapters(model, bottleneck=64, train_modules=("classifier", "pre_classifier"))
        return model, "tokens"
    if kind in ("opt350m", "opt350m_chosen"):
        return transformers.OPTForCausalLM(full_config("sft")), "causal"
    if kind == "opt350m_dpo":
        return _DPOStep(transformers.OPTForCausalLM(full_config("sft"))), "pairs"
    if kind == "opt350m_qlora":  # ftcourse.quant's from-scratch NF4 layers, LoRA on all of them
        from ftcourse import quant

        model = transformers.OPTForCausalLM(full_config("sft"))
        quant.quantize_model(model)
        quant.apply_qlora(model, rank=64, alpha=16)
        return model, "causal"
    if kind.startswith("gpt2"):
        import peft

        model = transformers.GPT2LMHeadModel(full_config("generation"))
        if kind == "gpt2_lora":
            config = peft.LoraConfig(r=8, lora_alpha=16, target_modules=["c_attn", "c_proj"],
                                     fan_in_fan_out=True, task_type="CAUSAL_LM")
        else:
            config = peft.PromptTuningConfig(num_virtual_tokens=20, task_type="CAUSAL_LM")
        return peft.get_peft_model(model, config), "causal"
    if kind.startswith("resnet"):
        model = load_resnet18(pretrained=False, input_size=224)
        replace_resnet_head(model, 5)
        freeze(model)
        model.head.requires_grad_(True)
        if kind == "resnet_last2":
            unfreeze(model, ["resnet.resnet.encoder.stages.2.*", "resnet.resnet.encoder.stages.3.*"])
        return model, "images"
    raise ValueError(f"unknown workload kind {kind!r}")


class _DPOStep(nn.Module):
    """Chapter 16's DPO step: the policy and a frozen copy as reference, the loss of ftcourse.dpo."""

    def __init__(self, policy: nn.Module) -> None:
        from ftcourse.dpo import frozen_copy

        super().__init__()
        self.policy, self.reference, self.config = policy, frozen_copy(policy), policy.config

    def forward(self, input_ids, attention_mask, completion_mask):
        from ftcourse.dpo import dpo_loss, pair_logprobs

        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask}
        with torch.no_grad():
            reference = pair_logprobs(self.reference, batch)
        return type("Out", (), {"loss": dpo_loss(*pair_logprobs(self.policy, batch), *reference)[0]})()


def make_batch(model: nn.Module, kind: str, batch: int, length: int, device: torch.device) -> dict:
    if kind == "pairs":  # `batch` pairs: chosen rows then rejected rows, the second half answers
        ids = torch.randint(5, model.config.vocab_size, (2 * batch, length), device=device)
        answer = torch.zeros_like(ids)
        answer[:, length // 2:] = 1
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "completion_mask": answer}
    config = getattr(model, "config", None)
    vocab = getattr(config, "vocab_size", 30_000)
    if kind == "images":
        return {"images": torch.randn(batch, 3, length, length, device=device),
                "labels": torch.randint(0, 5, (batch,), device=device)}
    ids = torch.randint(5, vocab, (batch, length), device=device)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if kind == "tokens":
        inputs["labels"] = torch.randint(0, model.config.num_labels, (batch,), device=device)
    elif kind == "tags":
        inputs["labels"] = torch.randint(0, model.config.num_labels, (batch, length), device=device)
    elif kind == "mlm":
        labels = torch.full_like(ids, -100)
        masked = torch.rand(ids.shape, device=device) < 0.15
        labels[masked] = ids[masked]
        inputs["labels"] = labels
    else:  # causal
        inputs["labels"] = ids.clone()
    return inputs


def _loss(model: nn.Module, inputs: dict) -> torch.Tensor:
    if "images" in inputs:  # ftcourse's ResNetClassifier: images in, logits out
        return nn.functional.cross_entropy(model(inputs["images"]), inputs["labels"])
    out = model(**inputs)
    if hasattr(out, "loss") and out.loss is not None:
        return out.loss
    logits = out.logits if hasattr(out, "logits") else out
    return nn.functional.cross_entropy(logits, inputs["labels"])


def measure(work: Workload, steps: int, device: torch.device) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from ftcourse import training_precision

    torch.manual_seed(0)
    model, kind = build(work.build)
    model.to(device).train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5)
    precision = training_precision(device)  # what `fit` and the Trainer chapters pick here
    dtype = precision.autocast_dtype
    scaler = torch.amp.GradScaler(device.type, enabled=precision.loss_scaling)
    inputs = make_batch(model, kind, work.batch, work.length, device)

    def step(count_flops: bool = False) -> int:
        counter = FlopCounterMode(display=False) if count_flops else _nothing()
        with counter:  # forward and backward in one count (entering it again would reset it)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = _loss(model, inputs)
            scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        return counter.get_total_flops() if count_flops else 0

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    flops = step(count_flops=True)  # warm-up, not timed
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    per_step = (time.perf_counter() - start) / steps
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        memory = f"{peak:.1f} GiB allocated (peak)"
    else:  # each workload runs in its own process (see main), so this is its own high-water mark
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        memory = f"{peak:.1f} GiB RSS (peak)"
    total_steps = math.ceil(work.examples / work.batch) * work.epochs * work.runs
    return {
        **asdict(work),
        "trainable": sum(p.numel() for p in trainable),
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds_per_step": round(per_step, 3),
        "peak_memory_gib": round(peak, 2),
        "memory": memory,
        "tflop_per_step": round(flops / 1e12, 3),
        "steps": total_steps,
        "projected_hours": round(total_steps * per_step / 3600, 2),
        "precision": precision.name,
    }


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return (f"CPU, {torch.get_num_threads()} threads of {os.cpu_count()} cores, {platform.machine()} "
            f"(torch {torch.__version__})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per workload (after one warm-up)")
    parser.add_argument("--only", nargs="*", default=None, help="chapters to measure, e.g. 05 11")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file (rows of "
                        "workloads not measured in this run are kept from the file)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # one workload, JSON out
    parser.add_argument("--reproject", action="store_true",
                        help="measure nothing: recompute the steps and projected times of the rows in "
                        "--json from the workloads' current sizes (after a chapter's sizes changed)")
    args = parser.parse_args(argv)
    if args.reproject:
        if not args.json:
            parser.error("--reproject needs --json FILE")
        payload = json.loads(Path(args.json).read_text())
        sizes = {w.build: w for w in WORKLOADS}
        for row in payload["rows"]:
            work = sizes[row["build"]]
            row.update(asdict(work))
            row["steps"] = math.ceil(work.examples / work.batch) * work.epochs * work.runs
            row["projected_hours"] = round(row["steps"] * row["seconds_per_step"] / 3600, 2)
        Path(args.json).write_text(json.dumps(payload, indent=1) + "\n")
        print(f"reprojected {len(payload['rows'])} rows of {args.json} from the current workload sizes")
        return 0
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.worker is not None:
        work = next(w for w in WORKLOADS if w.build == args.worker)
        print("ROW " + json.dumps(measure(work, args.steps, device)), flush=True)
        return 0
    chosen = [w for w in WORKLOADS if not args.only or w.chapter in args.only]
    if not chosen:
        parser.error(f"--only {args.only} matches no chapter; the chapters are "
                     f"{sorted({w.chapter for w in WORKLOADS})}")
    print(f"hardware: {hardware(device)}; {args.steps} timed step(s) per workload after one warm-up",
          flush=True)
    rows = []
    header = f"{'ch':<3} {'workload':<34} {'batch x len':>11} {'s/step':>8} {'TFLOP/step':>10} " \
             f"{'steps':>7} {'projected':>10}  memory"
    print(header, flush=True)
    for work in chosen:  # each in a fresh process: its own peak memory, nothing left over
        done = subprocess.run(
            [sys.executable, __file__, "--worker", work.build, "--steps", str(args.steps), "--device", device.type],
            capture_output=True, text=True)
        found = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
        if done.returncode != 0 or not found:
            print(f"{work.chapter:<3} {work.name:<34} FAILED:\n{done.stderr[-3000:]}", flush=True)
            continue
        row = json.loads(found[0])
        rows.append(row)
        print(f"{row['chapter']:<3} {row['name']:<34} {f'{work.batch} x {work.length}':>11} "
              f"{row['seconds_per_step']:>8.2f} {row['tflop_per_step']:>10.2f} {row['steps']:>7} "
              f"{row['projected_hours']:>9.1f}h  {row['memory']}", flush=True)
    by_chapter: dict[str, float] = {}
    for row in rows:
        by_chapter[row["chapter"]] = by_chapter.get(row["chapter"], 0.0) + row["projected_hours"]
    print("projected training time per chapter: "
          + ", ".join(f"{ch} {hours:.1f} h" for ch, hours in sorted(by_chapter.items())), flush=True)
    if args.json:
        measured = {row["build"] for row in rows}
        try:
            kept = [row for row in json.loads(Path(args.json).read_text())["rows"] if row["build"] not in measured]
        except (OSError, ValueError, KeyError):
            kept = []
        order = [w.build for w in WORKLOADS]
        rows = sorted(kept + rows, key=lambda row: order.index(row["build"]) if row["build"] in order else len(order))
        payload = {"hardware": hardware(device), "steps": args.steps, "python": sys.version.split()[0],
                   "rows": rows}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1)
            handle.write("\n")
    return 0 if len(rows) == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
