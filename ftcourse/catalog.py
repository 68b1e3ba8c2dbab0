"""What the `full` profile uses, chapter by chapter: hub models and datasets, with their sizes.

The book's "Models and data" page is generated from this module. Model sizes are *counted*: each
model is built from its published configuration (the hyperparameters of its `config.json` on the
hub, written out below) on PyTorch's `meta` device, which allocates no memory and downloads
nothing, and its parameters are summed. Dataset sizes are the split sizes their publishers give.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ftcourse.hf import MODELS, TASKS

# The published configurations (hub `config.json`) of the checkpoints in `ftcourse.hf.MODELS`:
# (transformers config class, the settings that differ from that class's defaults).
PUBLISHED_CONFIGS: dict[str, tuple[str, dict]] = {
    "distilbert-base-uncased-finetuned-sst-2-english": (
        "DistilBertConfig", {"id2label": {0: "NEGATIVE", 1: "POSITIVE"}},
    ),
    "gpt2": ("GPT2Config", {}),
    "t5-small": ("T5Config", {}),
    "bert-base-uncased": ("BertConfig", {}),
    "bert-base-cased": ("BertConfig", {"vocab_size": 28996}),
    "distilbert-base-uncased": ("DistilBertConfig", {}),
    "papluca/xlm-roberta-base-language-detection": (
        "XLMRobertaConfig",
        {"vocab_size": 250002, "max_position_embeddings": 514, "type_vocab_size": 1,
         "layer_norm_eps": 1e-5, "num_labels": 20},
    ),
    "facebook/opt-350m": (
        "OPTConfig",
        {"hidden_size": 1024, "ffn_dim": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
         "word_embed_proj_dim": 512, "max_position_embeddings": 2048, "vocab_size": 50272,
         "do_layer_norm_before": False},
    ),
    "sentence-transformers/all-MiniLM-L6-v2": (
        "BertConfig",
        {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536},
    ),
}


def full_config(role: str):
    """The configuration of `role`'s `full` checkpoint, built offline from its published values."""
    import transformers

    if role not in MODELS:
        raise KeyError(f"unknown role {role!r}; the roles are {sorted(MODELS)}")
    class_name, settings = PUBLISHED_CONFIGS[MODELS[role].hub]
    return getattr(transformers, class_name)(**settings)


def count_full_parameters(role: str, task: str | None = None) -> int:
    """Parameters of `role`'s `full` checkpoint with the head of `task` (default: its own),
    counted on the `meta` device: nothing is allocated or downloaded. Tied weights count once."""
    import torch
    import transformers

    task = task or MODELS[role].task
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; the tasks are {sorted(TASKS)}")
    with torch.device("meta"):
        model = getattr(transformers, TASKS[task]).from_config(full_config(role))
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset of the `full` profile: where it comes from and how big it is."""

    name: str
    source: str  # the hub id or download address ftcourse uses
    local: str  # its layout under FTCOURSE_DATA_DIR
    splits: dict[str, int] = field(default_factory=dict)  # published split sizes
    unit: str = "examples"


DATASETS: dict[str, DatasetEntry] = {
    "imdb": DatasetEntry(
        "IMDB movie reviews (aclImdb v1)", "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        "aclImdb/{train,test}/{pos,neg}/*.txt", {"train": 25_000, "test": 25_000}, "reviews",
    ),
    "ag_news": DatasetEntry(
        "AG News (ag_news_csv)", "https://s3.amazonaws.com/fast-ai-nlp/ag_news_csv.tgz",
        "ag_news_csv/{train,test}.csv, classes.txt", {"train": 120_000, "test": 7_600}, "articles",
    ),
    "glove": DatasetEntry(
        "GloVe 6B word vectors", "https://nlp.stanford.edu/data/glove.6B.zip",
        "glove/glove.6B.100d.txt (or FTCOURSE_GLOVE)", {"vocabulary": 400_000}, "words",
    ),
    "emnist": DatasetEntry(
        "EMNIST letters", "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",
        "emnist/emnist-letters-{train,test}-{images-idx3,labels-idx1}-ubyte.gz",
        {"train": 124_800, "test": 20_800}, "images",
    ),
    "yelp": DatasetEntry(
        "Yelp reviews, 5 classes", "Yelp/yelp_review_full", "yelp_review_full_csv/{train,test}.csv",
        {"train": 650_000, "test": 50_000}, "reviews",
    ),
    "wikitext": DatasetEntry(
        "WikiText-2 (raw)", "Salesforce/wikitext, wikitext-2-raw-v1", "wikitext-2-raw/wiki.{train,valid,test}.raw",
        {"train": 36_718, "validation": 3_760, "test": 4_358}, "lines",
    ),
    "guanaco": DatasetEntry(
        "openassistant-guanaco (best replies)", "timdettmers/openassistant-guanaco",
        "openassistant-guanaco/openassistant_best_replies_{train,eval}.jsonl", {"train": 9_846, "test": 518},
        "conversations",
    ),
    "conll2003": DatasetEntry(
        "CoNLL-2003 English NER", "eriktks/conll2003 (parquet)",
        "conll2003/eng.{train,testa,testb} or {train,valid,test}.txt",
        {"train": 14_041, "validation": 3_250, "test": 3_453}, "sentences",
    ),
    "cifar10": DatasetEntry(
        "CIFAR-10, first five classes (airplane, automobile, bird, cat, deer)", "uoft-cs/cifar10 (parquet)",
        "cifar10/plain_text/{train,test}-00000-of-00001.parquet", {"train": 25_000, "test": 5_000}, "images",
    ),
    "orca_dpo": DatasetEntry(
        "Intel/orca_dpo_pairs (system, question, chosen, rejected)", "Intel/orca_dpo_pairs@6ccacf6",
        "orca_dpo_pairs/orca_rlhf.jsonl", {"train": 12_859}, "preference pairs",
    ),
}

# Which models (roles of ftcourse.hf) and datasets each chapter uses on the `full` profile.
CHAPTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "02_transfer_learning": {"models": (), "data": ("imdb", "ag_news", "glove")},
    "03_adapters": {"models": (), "data": ("imdb", "ag_news", "glove")},
    "04_lora_from_scratch": {"models": (), "data": ("imdb", "ag_news", "glove", "emnist")},
    "05_bert_strategies": {"models": ("bert_uncased",), "data": ("imdb",)},
    "06_inference_cookbook": {
        "models": ("sentiment", "generation", "translation", "fill_mask", "language_detection"), "data": (),
    },
    "07_bert_mlm_pretraining": {"models": ("fill_mask", "sft"), "data": ("wikitext",)},
    "08_pytorch_loop": {"models": ("bert_cased",), "data": ("yelp",)},
    "09_trainer": {"models": ("distilbert",), "data": ("ag_news",)},
    "10_ner": {"models": ("bert_cased",), "data": ("conll2003",)},
    # ResNet-18 (microsoft/resnet-18) is loaded by ftcourse.vision, not through an ftcourse.hf role
    "11_sft_assistant": {"models": ("sft",), "data": ("guanaco",)},
    "12_peft_library": {"models": ("generation",), "data": ("guanaco",)},
    "13_adapterhub": {"models": ("distilbert",), "data": ("ag_news",)},
    "14_vision_transfer": {"models": (), "data": ("cifar10",)},
    "15_deployment": {"models": ("sentiment",), "data": ("imdb", "yelp")},
    "16_preference_dpo": {"models": ("sft",), "data": ("orca_dpo",)},
    "17_qlora": {"models": ("sft",), "data": ("guanaco",)},
}


def model_rows(chapter: str | None = None) -> list[dict]:
    """One row per (chapter, role): hub name, head, parameters counted from the config."""
    rows = []
    for name, uses in CHAPTERS.items():
        if chapter is not None and name != chapter:
            continue
        for role in uses["models"]:
            spec = MODELS[role]
            rows.append({"chapter": name, "role": role, "hub": spec.hub, "task": spec.task,
                         "parameters": count_full_parameters(role)})
    return rows


# ---------------------------------------------------------------------------------------------
# What a chapter's `full` training costs. Measured: `bench/full_size_cost.py` ran a training step of
# every `full` workload at its real sizes (random weights from the published configs) and wrote
# seconds per step, floating-point operations per step and peak memory to this file. No GPU has
# run it yet, so the only T4 figure given is a bound: the counted operations at the T4's fp16
# tensor peak (65 TFLOP/s, NVIDIA's T4 datasheet). Real training runs several times slower than
# peak (small batches, memory traffic, data loading); the script measures it on any GPU.
MEASURED_COST = Path(__file__).resolve().parent / "measured" / "full_size_cost_cpu.json"
T4_PEAK_TFLOPS = 65.0
T4_MEMORY_GIB = 16


def budget(chapter: str) -> dict:
    """The `full` training cost of `chapter` ("05" or "05_bert_strategies"): its workloads as
    measured, total steps and operations, the CPU time measured, the least time a T4 could take
    (minutes at its fp16 peak) and the largest peak memory. Raises KeyError for a chapter that
    trains nothing at model size on `full` (01-04: small models, minutes on a CPU; 06: inference)."""
    payload = json.loads(MEASURED_COST.read_text(encoding="utf-8"))
    rows = [row for row in payload["rows"] if row["chapter"] == chapter[:2]]
    if not rows:
        raise KeyError(f"no measured full-size workload for chapter {chapter!r}")
    tflop = sum(row["steps"] * row["tflop_per_step"] for row in rows)
    return {
        "chapter": chapter[:2], "workloads": [row["name"] for row in rows],
        "steps": sum(row["steps"] for row in rows), "tflop": tflop,
        "cpu_hours": sum(row["projected_hours"] for row in rows), "hardware": payload["hardware"],
        "t4_minutes_at_peak": tflop / T4_PEAK_TFLOPS / 60,
        "peak_memory_gib": max(row["peak_memory_gib"] for row in rows),
    }


def budget_markdown(chapter: str) -> str:
    """One paragraph for the top of a chapter: the compute and memory its `full` training needs."""
    b = budget(chapter)
    least = b["t4_minutes_at_peak"]
    bound = "under a minute" if least < 1 else f"at least {least:.0f} minutes"
    fits = "fits in" if b["peak_memory_gib"] < T4_MEMORY_GIB else "is more than"
    return (
        f"**Budget on `full`** ({'; '.join(b['workloads'])}): {b['steps']:,} training steps, "
        f"{b['tflop']:,.0f} TFLOP. A free Colab T4 needs {bound} for them even at its "
        f"{T4_PEAK_TFLOPS:.0f} TFLOP/s fp16 peak; real training runs several times slower, plus "
        f"evaluation (no GPU has timed it yet: `python bench/full_size_cost.py --only {b['chapter']}` "
        f"does on one). Peak memory was {b['peak_memory_gib']:.1f} GiB in fp32, which {fits} a T4's "
        f"{T4_MEMORY_GIB} GB; mixed precision needs less. Counted by `bench/full_size_cost.py` on "
        f"{b['hardware']}, where this training would take {b['cpu_hours']:,.1f} h."
    )


__all__ = ["CHAPTERS", "DATASETS", "MEASURED_COST", "DatasetEntry", "PUBLISHED_CONFIGS", "budget",
           "budget_markdown", "count_full_parameters", "full_config", "model_rows"]
