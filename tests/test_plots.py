"""The results page's method comparison: rows from recorded runs, and the two summary charts."""

import matplotlib.pyplot as plt
import pytest

from ftcourse import plots


def run(notebook, metrics, profile="ci", data="generated (ci profile, seed 0)",
        device="cpu: 2 cores (x86_64)"):
    return {
        "notebook": notebook,
        "metrics": metrics,
        "provenance": {"profile": profile, "data_source": data, "device": device, "seconds": 1.0},
    }


RUNS = [
    run(
        "02_transfer",
        {
            "accuracy/untrained": 0.5,  # no trainable_params/untrained: not a method
            "accuracy/scratch": 0.84,
            "trainable_params/scratch": 46858,
            "accuracy/linear_probe": 0.78,
            "trainable_params/linear_probe": 102,
        },
    ),
    run("01_counts", {"max_abs_error": 1e-5}),  # no methods at all
    run(
        "04_lora",
        {
            "accuracy/lora": 0.78,
            "trainable_params/lora": 614,
            "cnn/accuracy/lora": 0.87,
            "cnn/trainable_params/lora": 833,
            "cnn/trainable_params/head_only": 425,  # no accuracy recorded: left out
        },
        profile="full",
        data="IMDB: aclImdb",
        device="cuda: NVIDIA H100",
    ),
]


def test_method_rows_pairs_accuracy_with_trainable_params():
    rows = plots.method_rows(RUNS)
    assert [(r["chapter"], r["method"]) for r in rows] == [
        ("02_transfer", "scratch"),
        ("02_transfer", "linear_probe"),
        ("04_lora", "lora"),
        ("04_lora", "cnn/lora"),
    ]
    assert rows[0]["accuracy"] == pytest.approx(0.84)
    assert rows[0]["trainable_params"] == 46858
    assert rows[3]["trainable_params"] == 833
    assert rows[2]["profile"] == "full"
    assert rows[2]["device"] == "cuda: NVIDIA H100"
    assert rows[2]["data_source"] == "IMDB: aclImdb"


def test_method_rows_of_runs_without_methods_is_empty():
    assert plots.method_rows([run("01", {"max_abs_error": 0.0})]) == []
    assert plots.method_rows([]) == []


def test_provenance_caption_names_profile_hardware_and_data():
    caption = plots.provenance_caption(plots.method_rows(RUNS), width=40)
    assert "profile: ci, full" in caption
    assert "cpu: 2 cores (x86_64)" in caption and "cuda: NVIDIA H100" in caption
    lines = caption.splitlines()
    assert lines[1:] == [  # each chapter's data source, wrapped, nothing cut off
        "02_transfer: generated (ci profile, seed",
        "    0)",
        "04_lora: IMDB: aclImdb",
    ]
    with pytest.raises(ValueError):
        plots.provenance_caption([])


def figure_texts(fig):
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel()]
        texts += [t.get_text() for t in ax.texts]
        texts += [t.get_text() for t in ax.get_yticklabels()]
    return "\n".join(texts)


def test_accuracy_chart_has_one_bar_per_method_and_its_provenance():
    rows = plots.method_rows(RUNS[:1])
    fig = plots.plot_method_accuracy(rows)
    ax = fig.axes[0]
    widths = sorted(patch.get_width() for patch in ax.patches)
    assert widths == pytest.approx([0.78, 0.84])
    text = figure_texts(fig)
    assert "profile ci" in text
    assert "02_transfer: scratch" in text and "02_transfer: linear_probe" in text
    assert "cpu: 2 cores (x86_64)" in text and "generated (ci profile, seed 0)" in text
    assert ax.get_xscale() == "linear"
    plt.close(fig)


def test_trainable_params_chart_is_log_scale_with_counts():
    rows = plots.method_rows(RUNS)
    fig = plots.plot_trainable_params(rows)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert sorted(p.get_width() for p in ax.patches) == [102, 614, 833, 46858]
    text = figure_texts(fig)
    assert "46,858" in text and "cuda: NVIDIA H100" in text and "profile ci, full" in text
    plt.close(fig)


def test_charts_refuse_empty_rows_and_non_positive_counts():
    with pytest.raises(ValueError, match="no recorded method results"):
        plots.plot_method_accuracy([])
    bad = plots.method_rows([run("x", {"accuracy/a": 0.5, "trainable_params/a": 0})])
    with pytest.raises(ValueError, match="log scale"):
        plots.plot_trainable_params(bad)
