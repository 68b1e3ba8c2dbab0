"""What chapters 02-05 say about their runs across seeds holds for the recorded runs.

Each of those chapters shows a table of its comparison run with SEED 0-4 on the ci profile, read
from `results/ci-seeds/` (recorded with `python bench/ci_seeds.py --out results/ci-seeds ...`), and
its prose draws conclusions from it. These tests hold the prose to the recorded numbers: record the
runs again and a sentence that no longer holds fails here, naming the chapter.
"""

from __future__ import annotations

import statistics

import pytest

from ftcourse import results

CHAPTERS = ("02_transfer_learning", "03_adapters", "04_lora_from_scratch", "05_bert_strategies")


def values(chapter: str, metric: str) -> list[float]:
    runs = results.seed_runs(chapter)
    return [runs[seed][metric] for seed in sorted(runs)]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_comparison_chapter_has_five_recorded_seeds(chapter):
    assert sorted(results.seed_runs(chapter)) == [0, 1, 2, 3, 4], (
        f"record {chapter} per seed: python bench/ci_seeds.py --out results/ci-seeds {chapter}")


def mean(chapter: str, metric: str) -> float:
    return statistics.fmean(values(chapter, metric))


def test_chapter_02_full_fine_tuning_beats_scratch_in_four_seeds():
    assert results.seeds_holding("02_transfer_learning", "accuracy/full_finetune", "accuracy/scratch") == (4, 5)
    full = values("02_transfer_learning", "accuracy/full_finetune")
    scratch = values("02_transfer_learning", "accuracy/scratch")
    assert round(100 * (statistics.fmean(full) - statistics.fmean(scratch))) == 2  # "by 2 points on average"
    assert [round(100 * (s - f)) for f, s in zip(full, scratch) if f < s] == [1]  # "lost ... by 1 point"
    assert results.seeds_holding("02_transfer_learning", "accuracy/full_finetune", "accuracy/linear_probe") == (5, 5)
    assert results.seeds_holding("02_transfer_learning", "accuracy/scratch", "accuracy/linear_probe") == (3, 5)
    gap = mean("02_transfer_learning", "accuracy/linear_probe") - mean("02_transfer_learning",
                                                                       "accuracy/probe_random_encoder")
    assert round(100 * gap) == 13  # "13 points lower on average"


def test_chapter_03_adam_adapters_beat_the_probe_in_every_seed_and_the_controls_say_why():
    def holding(a: str, b: str) -> tuple[int, int]:
        return results.seeds_holding("03_adapters", f"accuracy/{a}", f"accuracy/{b}")

    def gap(a: str, b: str) -> int:  # mean of a minus mean of b, in whole points
        return round(100 * (mean("03_adapters", f"accuracy/{a}") - mean("03_adapters", f"accuracy/{b}")))

    assert holding("adapters", "linear_probe") == (5, 5)
    assert gap("adapters", "linear_probe") == 5  # "by 5 points on average"
    assert holding("full_finetune", "linear_probe") == (5, 5)
    assert holding("adapters", "full_finetune") == (3, 5)  # "beat full fine-tuning in three seeds of five"
    assert gap("adapters", "full_finetune") == 2  # "by 2 points on average"
    assert holding("adapters_sgd", "linear_probe") == (1, 5)  # the source's SGD: "only one seed of five"
    assert mean("03_adapters", "accuracy/linear_probe_adam") <= mean("03_adapters", "accuracy/linear_probe")
    assert holding("adapters", "linear_probe_adam") == (4, 5)


def test_chapter_04_lora_beats_scratch_on_text_and_on_the_cnn_in_every_seed():
    assert results.seeds_holding("04_lora_from_scratch", "accuracy/lora", "accuracy/scratch") == (5, 5)
    gain = mean("04_lora_from_scratch", "accuracy/lora") - mean("04_lora_from_scratch", "accuracy/scratch")
    assert round(100 * gain) == 5  # "by 5 points on average"
    head_gap = mean("04_lora_from_scratch", "accuracy/lora") - mean("04_lora_from_scratch", "accuracy/head_only")
    assert abs(head_gap) < 0.01  # "within a point of the head-only model"
    assert results.seeds_holding("04_lora_from_scratch", "cnn/accuracy/lora", "cnn/accuracy/scratch") == (5, 5)


def test_chapter_05_full_first_in_four_seeds_adapters_always_last():
    runs = results.seed_runs("05_bert_strategies")
    names = ("accuracy/full", "accuracy/head_only", "accuracy/lora", "accuracy/adapters")
    first = sum(max(names, key=m.get) == "accuracy/full" for m in runs.values())
    last = sum(min(names, key=m.get) == "accuracy/adapters" for m in runs.values())
    assert (first, last) == (4, 5)
    widest = max(max(values("05_bert_strategies", n)) - min(values("05_bert_strategies", n)) for n in names)
    assert 0.10 < widest <= 0.155  # "moves by up to 15 points from one seed to the next"


def test_seed_table_renders_the_recorded_runs(tmp_path):
    for seed, accuracy in ((0, 0.75), (1, 0.85)):
        (tmp_path / f"02_x.seed{seed}.json").write_text(f'{{"metrics": {{"accuracy/a": {accuracy}}}}}')
    table = results.seed_table("02_x", {"method a": "accuracy/a"}, folder=tmp_path).splitlines()
    assert table[0] == "| strategy | seed 0 | seed 1 | mean | sd |"
    assert table[2] == "| method a | 0.750 | 0.850 | 0.800 | 0.071 |"
    assert results.seeds_holding("02_x", "accuracy/a", "accuracy/a", folder=tmp_path) == (0, 2)
    assert "results/ci-seeds/" in results.seed_table("99_none", {"a": "accuracy/a"}, folder=tmp_path)
    with pytest.raises(FileNotFoundError, match="bench/ci_seeds.py"):
        results.seeds_holding("99_none", "a", "b", folder=tmp_path)
