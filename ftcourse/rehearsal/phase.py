"""The `rehearsal` test phase: every chapter's `full` code path against the loopback hub and hosts.

Builds the stand-ins (`standins`) and the download artefacts (`hosts`) under OUT, serves both on
127.0.0.1, then runs every chapter with `python -m ftcourse run --profile full --set ...` (sizes cut
to one epoch and a few batches, `CUT_SIZES`), two at a time, each in a fresh kernel whose
environment reaches only those servers: no HF_*_OFFLINE, HF_ENDPOINT at the hub, the download table
overridden, and a proxy that refuses every other host (CI also cuts the network with `unshare -n`).
Results go to OUT/results/full/, never to results/full/. Each chapter must finish and record.

    python -m ftcourse.rehearsal.phase [--out _build/rehearsal] [--samples ../shared/data] [NN ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from ftcourse.rehearsal import hosts, standins
from ftcourse.rehearsal.hub import serve_hub

# The sizes each chapter's parameters cell sets on `full`, cut for a CPU rehearsal.
CUT_SIZES: dict[str, dict[str, object]] = {
    "01_positional_encoding": {"MAX_LEN": 500},
    "02_transfer_learning": {"EPOCHS": 1, "PATIENCE": None, "MAX_LEN": 64, "TRAIN_SIZE": 256, "TEST_SIZE": 128},
    "03_adapters": {"EPOCHS": 1, "PATIENCE": None, "MAX_LEN": 64, "TRAIN_SIZE": 256, "TEST_SIZE": 128},
    "04_lora_from_scratch": {"EPOCHS": 1, "PATIENCE": None, "TRAIN_SIZE": 256, "TEST_SIZE": 128,
                             "CNN_PRETRAIN_EPOCHS": 1, "CNN_EPOCHS": 1, "CNN_ADAPT_TRAIN": 260},
    "05_bert_strategies": {"TRAIN_SIZE": 32, "VALID_SIZE": 16, "TEST_SIZE": 32, "EPOCHS": 1, "MAX_LEN": 32},
    "06_inference_cookbook": {"SENTIMENT_TEST": 32, "MAX_NEW_TOKENS": 5},
    "07_bert_mlm_pretraining": {"TRAIN_ROWS": 100, "EVAL_ROWS": 20, "VOCAB_SIZE": 2000, "BLOCK_SIZE": 32,
                                "EPOCHS": 1},
    "08_pytorch_loop": {"N_TRAIN": 32, "N_TEST": 16, "MAX_LEN": 32, "EPOCHS": 1},
    "09_trainer": {"N_TRAIN": 32, "N_VALID": 16, "N_TEST": 32, "MAX_LEN": 32, "FT_EPOCHS": 1, "HEAD_EPOCHS": 1},
    "10_ner": {"TRAIN_SENTENCES": 32, "VALID_SENTENCES": 16},
    # The stand-in GPT-2 and OPT tokenizers have 8,000 pieces, not 50,000: real conversations take
    # more tokens with them, so more of them are longer than MAX_LENGTH.
    "11_sft_assistant": {"EPOCHS": 1, "N_TRAIN": 32, "BATCH_SIZE": 4, "MAX_NEW_TOKENS": 5, "N_ROUGE": 4,
                         "MAX_DROPPED": 0.15},
    "12_peft_library": {"N_TRAIN": 32, "N_EVAL": 8, "EPOCHS": 1, "MAX_NEW_TOKENS": 5, "MAX_DROPPED": 0.15},
    "13_adapterhub": {"TRAIN_SIZE": 32, "VALID_SIZE": 16, "TEST_SIZE": 32, "MAX_LEN": 32, "EPOCHS": 1},
    "14_vision_transfer": {"EPOCHS": 1, "INPUT_SIZE": 64, "BATCH_SIZE": 32, "TRAIN_SIZE": 100, "TEST_SIZE": 50},
    "15_deployment": {"TRAIN_SIZE": 32, "EPOCHS": 1, "MAX_LENGTH": 32, "SLICE_SIZE": 32},
    "16_preference_dpo": {"N_TRAIN": 32, "N_EVAL": 16, "SFT_BATCH": 8, "DPO_BATCH": 4, "DEMO_STEPS": 2,
                          "MAX_LENGTH": 128, "MAX_NEW_TOKENS": 5},
    "17_qlora": {"N_TRAIN": 32, "N_EVAL": 8, "EPOCHS": 1, "MAX_DROPPED": 0.15},
}
# Settings a user may have that would send a chapter elsewhere than the loopback servers.
_CLEARED = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "FTCOURSE_OFFLINE", "FTCOURSE_DATA_DIR",
            "FTCOURSE_IMDB_DIR", "FTCOURSE_GLOVE", "HF_TOKEN", "HF_HUB_CACHE", "HF_DATASETS_CACHE")


def chapter_environment(out: Path, endpoint: str, overrides: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    refuse = "http://127.0.0.1:9"  # the discard port: any host but loopback fails at once
    env.update(
        FTCOURSE_PROFILE="full", HF_ENDPOINT=endpoint, HF_HOME=str(out / "hf_home"),
        FTCOURSE_CACHE=str(out / "cache"), FTCOURSE_RESULTS_DIR=str(out / "results"),
        FTCOURSE_DOWNLOAD_OVERRIDES=str(overrides), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1",
        HTTP_PROXY=refuse, HTTPS_PROXY=refuse, http_proxy=refuse, https_proxy=refuse,
        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
        TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="",
    )
    return env


def run_chapter(notebook: Path, out: Path, env: dict[str, str], sizes: dict[str, object] | None = None) -> dict:
    """One chapter through the runner; its log in OUT/logs/, its executed copy in OUT/runs/.
    `sizes` are its `--set` values (default: `CUT_SIZES`)."""
    name = notebook.stem
    sets = [f"{k}={v!r}" for k, v in (CUT_SIZES.get(name, {}) if sizes is None else sizes).items()]
    command = [sys.executable, "-m", "ftcourse", "run", str(notebook), "--profile", "full",
               "--output", str(out / "runs" / notebook.name)]
    for pair in sets:
        command += ["--set", pair]
    (out / "logs").mkdir(parents=True, exist_ok=True)
    log = out / "logs" / f"{name}.log"
    start = time.perf_counter()
    with log.open("w") as handle:
        done = subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=notebook.parent.parent)
    seconds = time.perf_counter() - start
    recorded = out / "results" / "full" / f"{name}.json"
    ok = done.returncode == 0 and recorded.is_file()
    return {"chapter": name, "ok": ok, "seconds": round(seconds, 1), "log": str(log),
            "results": str(recorded) if recorded.is_file() else None, "set": sets}


def rehearse(project: Path, out: Path, samples: Path | None, chapters: list[str] | None = None,
             jobs: int = 2) -> list[dict]:
    notebooks = sorted((project / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if chapters:
        notebooks = [nb for nb in notebooks if nb.stem[:2] in chapters or nb.stem in chapters]
        if not notebooks:
            raise ValueError(f"no chapter matches {chapters}; give numbers such as 05 10")
    start = time.perf_counter()
    standins.build_all(out / "hub", samples)
    hosts.build_artefacts(out / "files", samples)
    for stale in ("results", "cache", "hf_home", "runs", "logs"):
        _remove(out / stale)
    print(f"rehearsal: stand-ins and artefacts built in {time.perf_counter() - start:.0f} s", flush=True)
    with ExitStack() as stack:
        endpoint = stack.enter_context(serve_hub(out / "hub"))
        base = stack.enter_context(hosts.serve_files(out / "files"))
        env = chapter_environment(out, endpoint, hosts.overrides(out / "files", base))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            report = []
            for row in pool.map(lambda nb: run_chapter(nb, out, env), notebooks):
                print(f"  {row['chapter']:<26} {'ok' if row['ok'] else 'FAILED':<7} {row['seconds']:6.0f} s"
                      + ("" if row["ok"] else f"  (log: {row['log']})"), flush=True)
                report.append(row)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return report


def _remove(path: Path) -> None:
    import shutil

    if path.exists():
        shutil.rmtree(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rehearse every chapter's full profile on loopback.")
    parser.add_argument("chapters", nargs="*", help="chapter numbers (default: all)")
    parser.add_argument("--project", default=".", help="the ftcourse checkout")
    parser.add_argument("--out", default="_build/rehearsal")
    parser.add_argument("--samples", default=None, help="real samples (default: ../shared/data when it exists)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    project = Path(args.project).resolve()
    samples = Path(args.samples) if args.samples else project.parent / "shared" / "data"
    if not samples.is_dir():
        print(f"rehearsal: no real samples at {samples}; the stand-ins hold generated text", flush=True)
        samples = None
    start = time.perf_counter()
    report = rehearse(project, Path(args.out).resolve(), samples, args.chapters, args.jobs)
    failed = [row["chapter"] for row in report if not row["ok"]]
    print(f"rehearsal: {len(report) - len(failed)}/{len(report)} chapters ran and recorded in "
          f"{time.perf_counter() - start:.0f} s" + (f"; failed: {failed}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
