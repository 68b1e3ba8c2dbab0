"""Profiles, recorded results and atomic writes."""

import json

import pytest

import ftcourse
from ftcourse import results


def test_profile_switch(monkeypatch):
    monkeypatch.setenv("FTCOURSE_PROFILE", "full")
    assert ftcourse.profile() == "full" and ftcourse.choose(1, 2) == 2
    monkeypatch.setenv("FTCOURSE_PROFILE", "CI")
    assert ftcourse.profile() == "ci" and ftcourse.choose(1, 2) == 1
    monkeypatch.setenv("FTCOURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match="FTCOURSE_PROFILE='fast'"):
        ftcourse.profile()
    monkeypatch.delenv("FTCOURSE_PROFILE")
    assert ftcourse.profile() == "full"


def test_data_dir_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="FTCOURSE_PROFILE=ci"):
        ftcourse.data_dir()
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    assert ftcourse.data_dir() == tmp_path.resolve()


def test_record_writes_metrics_with_provenance(monkeypatch, tmp_path):
    monkeypatch.setenv("FTCOURSE_PROFILE", "ci")
    monkeypatch.setenv("FTCOURSE_RESULTS_DIR", str(tmp_path))
    path = results.record("notebooks/02_x.ipynb", {"accuracy/scratch": 0.8}, data_source="generated", seconds=1.234)
    assert path == tmp_path / "ci" / "02_x.json"
    payload = json.loads(path.read_text())
    assert payload["metrics"] == {"accuracy/scratch": 0.8}
    prov = payload["provenance"]
    assert prov["profile"] == "ci" and prov["data_source"] == "generated" and prov["seconds"] == 1.23
    assert "torch" in prov["versions"] and prov["device"]
    assert results.load("02_x")["metrics"] == payload["metrics"]


def test_record_names_local_data_relative_to_the_data_folder(monkeypatch, tmp_path):
    data = tmp_path / "samples"
    (data / "aclImdb_small").mkdir(parents=True)
    monkeypatch.setenv("FTCOURSE_PROFILE", "full")
    monkeypatch.setenv("FTCOURSE_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(data))
    source = f"IMDB: aclImdb_small in {data.resolve()}; GloVe: {data.resolve()}/glove/glove.6B.50d.txt"
    path = results.record("02_x", {"accuracy/scratch": 0.8}, data_source=source)
    prov = json.loads(path.read_text())["provenance"]
    assert prov["data_source"] == "IMDB: aclImdb_small in the data folder; GloVe: glove/glove.6B.50d.txt"
    assert prov["data_dir"] == "samples" and str(tmp_path) not in path.read_text()


def test_record_refuses_empty_or_nan(monkeypatch, tmp_path):
    monkeypatch.setenv("FTCOURSE_RESULTS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="no metrics"):
        results.record("x", {}, data_source="d")
    with pytest.raises(ValueError, match="non-finite"):
        results.record("x", {"a": float("nan")}, data_source="d")


def test_check_names_every_miss():
    results.check({"a": 0.5}, {"a": (0.4, 0.6)})
    with pytest.raises(AssertionError, match=r"a=0.9 outside \[0.4, 0.6\]; b: not recorded"):
        results.check({"a": 0.9}, {"a": (0.4, 0.6), "b": (0, 1)})


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "f.txt"
    results.atomic_write_text(target, "old")
    results.atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_profile_argument_is_checked_like_the_variable(monkeypatch):
    monkeypatch.setenv("FTCOURSE_PROFILE", "full")
    assert ftcourse.profile("ci") == "ci" and ftcourse.profile(None) == "full"
    with pytest.raises(ValueError, match="profile='fast' is not a profile"):
        ftcourse.profile("fast")
