"""Does each comparison chapter's lesson hold on the `ci` profile for every seed, or by one seed's luck?

    python bench/ci_seeds.py 02_transfer_learning 03_adapters     # run seeds 0-4, then tabulate
    python bench/ci_seeds.py --seeds 0 1 2 --out /tmp/seeds 04_lora_from_scratch
    python bench/ci_seeds.py --table-only --out /tmp/seeds 02_transfer_learning

Each chapter is executed by the runner (`python -m ftcourse run --profile ci --set SEED=k`), offline,
once per seed; the results JSON it records is copied to `<out>/<chapter>.seed<k>.json` (a seed whose
copy exists is not run again) with the wall time. Then, per comparison the source documents report
(`ORDERS`), it prints each method's accuracy per seed, the mean and standard deviation, and in how
many seeds each order the lesson states holds. Run chapter 02 before 03: chapter 03 reuses chapter 02's runs
for the same seed (`ftcourse.runcache`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Per chapter, each comparison the source documents report: a title, the metrics to show, and the
# pairs (better, worse) whose order the lesson states.
ORDERS: dict[str, list[tuple[str, list[str], list[tuple[str, str]]]]] = {
    "02_transfer_learning": [
        ("transfer strategies (source: full 86% > scratch 83% > probe 64%)",
         ["accuracy/full_finetune", "accuracy/scratch", "accuracy/linear_probe", "accuracy/probe_random_encoder"],
         [("accuracy/full_finetune", "accuracy/scratch"), ("accuracy/scratch", "accuracy/linear_probe"),
          ("accuracy/full_finetune", "accuracy/linear_probe")]),
    ],
    "03_adapters": [
        ("adapters (source: full 86% ~ adapters 85.6% > probe 64%; on ci the adapters train with Adam)",
         ["accuracy/full_finetune", "accuracy/adapters", "accuracy/linear_probe", "accuracy/adapters_sgd",
          "accuracy/linear_probe_adam"],
         [("accuracy/adapters", "accuracy/linear_probe"), ("accuracy/full_finetune", "accuracy/linear_probe"),
          ("accuracy/full_finetune", "accuracy/adapters"), ("accuracy/adapters_sgd", "accuracy/linear_probe"),
          ("accuracy/adapters", "accuracy/linear_probe_adam")]),
    ],
    "04_lora_from_scratch": [
        ("text (source: LoRA 69.2% > scratch 66.2%)",
         ["accuracy/lora", "accuracy/scratch", "accuracy/head_only"],
         [("accuracy/lora", "accuracy/scratch")]),
        ("CNN (LoRA on a pre-trained LeNet against scratch and head only)",
         ["cnn/accuracy/pretrain", "cnn/accuracy/lora", "cnn/accuracy/head_only", "cnn/accuracy/scratch"],
         [("cnn/accuracy/lora", "cnn/accuracy/scratch"), ("cnn/accuracy/lora", "cnn/accuracy/head_only")]),
    ],
    "05_bert_strategies": [
        ("BERT strategies (the source trains none; full fine-tuning is the reference)",
         ["accuracy/full", "accuracy/lora", "accuracy/adapters", "accuracy/head_only"],
         [("accuracy/full", "accuracy/lora"), ("accuracy/full", "accuracy/adapters"),
          ("accuracy/full", "accuracy/head_only")]),
    ],
}


def run(chapter: str, seed: int, out: Path) -> None:
    """Execute `chapter` on ci with `SEED=seed` and keep its results JSON and wall time."""
    target = out / f"{chapter}.seed{seed}.json"
    if target.is_file():
        return
    env = dict(os.environ, FTCOURSE_PROFILE="ci", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ftcourse", "run", f"notebooks/{chapter}.ipynb", "--profile", "ci",
         "--set", f"SEED={seed}", "--output", str(out / f"{chapter}.seed{seed}.ipynb")],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    seconds = time.monotonic() - start
    (out / f"{chapter}.seed{seed}.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    recorded = ROOT / "results" / "ci" / f"{chapter}.json"
    if not recorded.is_file():
        print(f"{chapter} seed {seed}: no results recorded (exit {done.returncode}); see the log", file=sys.stderr)
        return
    result = json.loads(recorded.read_text(encoding="utf-8"))
    result["sweep"] = {"seed": seed, "returncode": done.returncode, "wall_seconds": round(seconds, 1)}
    target.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"{chapter} seed {seed}: exit {done.returncode}, {seconds:.0f} s", flush=True)


def table(chapter: str, seeds: list[int], out: Path) -> str:
    """The per-seed table of each comparison of `chapter`, with mean, sd and the order's count."""
    found = {s: json.loads(p.read_text()) for s in seeds if (p := out / f"{chapter}.seed{s}.json").is_file()}
    if not found:
        return f"{chapter}: no results in {out}"
    lines = [f"## {chapter} (seeds {', '.join(map(str, found))})"]
    walls = [r.get("sweep", {}).get("wall_seconds") for r in found.values()]
    fails = [s for s, r in found.items() if r.get("sweep", {}).get("returncode", 0) != 0]
    if all(w is not None for w in walls):
        lines.append(f"wall time per run: {min(walls):.0f}-{max(walls):.0f} s; failed runs (checks): {fails or 'none'}")
    for title, shown, pairs in ORDERS.get(chapter, []):
        lines.append(f"\n{title}")
        lines.append(f"| metric | {' | '.join(f'seed {s}' for s in found)} | mean | sd |")
        lines.append("|---|" + "---|" * (len(found) + 2))
        for metric in shown:
            values = [r["metrics"].get(metric) for r in found.values()]
            cells = " | ".join("-" if v is None else f"{v:.3f}" for v in values)
            known = [v for v in values if v is not None]
            sd = statistics.stdev(known) if len(known) > 1 else 0.0
            lines.append(f"| {metric} | {cells} | {statistics.mean(known):.3f} | {sd:.3f} |")
        for better, worse in pairs:
            holds = sum(r["metrics"][better] > r["metrics"][worse] for r in found.values())
            lines.append(f"{better} > {worse}: {holds} of {len(found)} seeds")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="+", help="chapter names, e.g. 02_transfer_learning")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "seeds")
    parser.add_argument("--table-only", action="store_true", help="tabulate what is in --out, run nothing")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for chapter in args.chapters:
        if not (ROOT / "notebooks" / f"{chapter}.ipynb").is_file():
            parser.error(f"no notebook notebooks/{chapter}.ipynb; "
                         "name a chapter as in notebooks/, e.g. 02_transfer_learning")
    if not args.table_only:
        for seed in args.seeds:  # seed-major: chapter 03 reuses chapter 02's runs of the same seed
            for chapter in args.chapters:
                run(chapter, seed, args.out)
    for chapter in args.chapters:
        print(table(chapter, args.seeds, args.out), end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
