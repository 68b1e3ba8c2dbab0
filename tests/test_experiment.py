"""ftcourse.experiment: the run record, verdicts held to the noise, tables, and results.record."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import ftcourse
from ftcourse import results
from ftcourse.experiment import Run, compare, over_seeds, run_strategy, seed_metrics, seed_table, table
from ftcourse.train import History


def run(name: str, accuracy: float, n_test: int | None = 1000, **kwargs) -> Run:
    return Run(name, {"accuracy": accuracy}, n_test=n_test, **kwargs)


# --- compare: a winner only outside the noise -----------------------------------------------------
def test_one_run_each_is_held_to_the_binomial_noise_of_the_test_set():
    verdict = compare(run("lora", 0.80), run("head_only", 0.78))
    expected = 2 * math.sqrt(0.8 * 0.2 / 1000 + 0.78 * 0.22 / 1000)  # about 0.036
    assert verdict.noise == pytest.approx(expected)
    assert verdict.winner is None
    assert str(verdict).startswith("**lora** and **head_only** are within noise")
    assert "1,000 test examples" in str(verdict)


def test_a_gap_beyond_the_noise_names_the_winner_either_way():
    ahead = compare(run("full", 0.90), run("scratch", 0.80))
    assert ahead.winner == "full"
    assert str(ahead).startswith("**full** beat **scratch** by 10.0 points (90.0% against 80.0%")
    behind = compare(run("scratch", 0.80), run("full", 0.90))
    assert behind.winner == "full" and str(behind).startswith("**scratch** trailed **full** by 10.0 points")


def test_a_gap_equal_to_the_noise_is_not_a_win():
    assert compare(run("a", 0.80), run("b", 0.78), noise=0.02 + 1e-12).winner is None
    assert compare(run("a", 0.80), run("b", 0.78), noise=0.019).winner == "a"
    assert compare(run("a", 1.0), run("b", 1.0)).winner is None  # level, with no noise at all


def test_several_seeds_use_their_measured_spread():
    a = [run("a", v, n_test=None) for v in (0.80, 0.82, 0.84)]
    b = [run("b", v, n_test=None) for v in (0.70, 0.72, 0.74)]
    verdict = compare(a, b)
    assert verdict.noise == pytest.approx(2 * math.sqrt(0.0004 / 3 + 0.0004 / 3))
    assert verdict.winner == "a" and "over 3 and 3 seeds" in str(verdict)
    spread = [run("b", v, n_test=None) for v in (0.60, 0.80, 1.00)]  # same mean gap, wide spread
    assert compare(a, spread).winner is None


def test_compare_refuses_what_it_cannot_judge():
    with pytest.raises(ValueError, match="n_test"):
        compare(run("a", 0.8, n_test=None), run("b", 0.7))
    with pytest.raises(ValueError, match="one strategy"):
        compare([run("a", 0.8), run("b", 0.7)], run("c", 0.6))
    with pytest.raises(ValueError, match="noise"):
        compare(Run("a", {"loss": 1.0}), Run("b", {"loss": 2.0}), metric="loss")
    higher = compare(Run("a", {"loss": 1.0}), Run("b", {"loss": 2.0}), metric="loss", noise=0.5)
    assert higher.winner == "b" and str(higher).startswith("**a** trailed (lower) **b** by 1 (1 against 2")
    loss = compare(Run("a", {"loss": 1.0}), Run("b", {"loss": 2.0}), metric="loss", noise=0.5,
                   higher_is_better=False)
    assert loss.winner == "a" and str(loss).startswith("**a** beat (lower) **b** by 1")


# --- table --------------------------------------------------------------------------------------
def test_table_renders_the_chosen_columns_formatted():
    runs = [Run("untrained", {"accuracy": 0.5}),
            Run("lora", {"accuracy": 0.81234}, trainable=1234, total=123456, best_epoch=3, seconds=12.345)]
    text = table(runs, ["accuracy", "params", "share", "best_epoch", "seconds"], first="method",
                 headers={"accuracy": "IMDB test accuracy"})
    assert text.splitlines() == [
        "| method | IMDB test accuracy | trainable / total parameters | trainable % | best epoch | training seconds |",
        "|---|---|---|---|---|---|",
        "| untrained | 0.500 | - | - | - | - |",
        "| lora | 0.812 | 1,234 / 123,456 | 1.00% | 3 | 12.3 |",
    ]
    with pytest.raises(ValueError, match="no runs"):
        table([])


def test_seed_table_and_seed_metrics_give_mean_and_spread_per_strategy():
    head = [run("head_only", v, seed=k) for k, v in zip((0, 1, 2), (0.90, 0.92, 0.94))]
    deep = [run("deep", v, seed=k) for k, v in zip((0, 1, 2), (0.98, 1.0, 0.99))]
    assert over_seeds(head) == (pytest.approx(0.92), pytest.approx(0.02))
    assert seed_table([head, deep]).splitlines() == [
        "| strategy | seed 0 | seed 1 | seed 2 | mean | sd |",
        "|---|---|---|---|---|---|",
        "| head_only | 0.900 | 0.920 | 0.940 | 0.920 | 0.020 |",
        "| deep | 0.980 | 1.000 | 0.990 | 0.990 | 0.010 |",
    ]
    assert seed_metrics([head, deep]) == {
        "accuracy_mean/head_only": pytest.approx(0.92), "accuracy_sd/head_only": pytest.approx(0.02),
        "accuracy_mean/deep": pytest.approx(0.99), "accuracy_sd/deep": pytest.approx(0.01)}
    assert list(seed_metrics([deep], names={"deep": "last_two_stages"})) == [
        "accuracy_mean/last_two_stages", "accuracy_sd/last_two_stages"]
    # one seed (the full profile): the table has no spread and nothing is added to the record
    assert over_seeds(head[:1]) == (0.90, None)
    assert seed_table([head[:1]]).splitlines()[-1] == "| head_only | 0.900 | 0.900 | - |"
    assert seed_metrics([head[:1], deep[:1]]) == {}
    with pytest.raises(ValueError, match="same seeds"):
        seed_table([head, deep[:2]])
    with pytest.raises(ValueError, match="one strategy"):
        seed_metrics([[head[0], deep[1]]])
    with pytest.raises(ValueError, match="one list of runs"):
        seed_table([])


# --- the record round trip and results.record -----------------------------------------------------
def test_run_round_trips_through_json():
    history = History(loss=[0.7, 0.5], val_acc=[0.6, 0.7], epoch_seconds=[1.0, 1.5], steps=20, best_epoch=2,
                      best_val_acc=0.7)
    original = Run("lora", {"accuracy": 0.8, "f1": 0.75}, trainable=10, total=100, best_epoch=2, seconds=2.5,
                   history=history, reused=True, seed=3, n_test=200)
    again = Run.from_dict(json.loads(json.dumps(original.to_dict())))
    assert again == original


def test_record_writes_the_metric_names_the_results_page_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCOURSE_RESULTS_DIR", str(tmp_path))
    lora = run("lora", 0.8, trainable=10, total=100, best_epoch=2, seconds=1.0)
    pre = run("ag_news", 0.9, trainable=100, total=100)
    path = results.record("99_x", {"accuracy/untrained": 0.5}, runs=[lora], controls=[pre], data_source="test")
    written = json.loads(path.read_text())
    assert written["metrics"] == {"accuracy/lora": 0.8, "trainable_params/lora": 10, "accuracy/ag_news": 0.9,
                                  "accuracy/untrained": 0.5}
    assert written["extra"]["runs"]["lora"]["trainable"] == 10 and "history" not in written["extra"]["runs"]["lora"]
    assert results.run_metrics([lora], prefix="cnn/") == {"cnn/accuracy/lora": 0.8, "cnn/trainable_params/lora": 10}
    with pytest.raises(ValueError, match="give each number once"):
        results.record("99_x", {"accuracy/lora": 0.7}, runs=[lora], data_source="test")
    with pytest.raises(ValueError, match="trainable"):
        results.record("99_x", runs=[run("x", 0.5)], data_source="test")


# --- run_strategy ----------------------------------------------------------------------------------
def test_run_strategy_trains_tests_and_records(capsys):
    import matplotlib

    matplotlib.use("Agg")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=g)
    y = (x[:, 0] > 0).long()
    data = TensorDataset(y, x)  # batches of (labels, inputs), as fit expects
    train = DataLoader(data, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
    test = DataLoader(data, batch_size=32)
    ftcourse.set_seed(0)
    model = torch.nn.Linear(4, 2)
    result = run_strategy("linear", model, train, test, test, seed=0, cache=False, epochs=3, lr=0.5, clip=None,
                          progress=False, device="cpu")
    assert result.trainable == result.total == 10 and result.n_test == 96 and result.seed == 0
    assert result.accuracy > 0.8 and result.best_epoch in (1, 2, 3) and len(result.history.loss) == 3
    assert "linear:" in capsys.readouterr().out
    with pytest.raises(ValueError, match="cache=False"):
        run_strategy("x", model, train, test, test, seed=0, optimizer=torch.optim.SGD(model.parameters(), lr=1))
