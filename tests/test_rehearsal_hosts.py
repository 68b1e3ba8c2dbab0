"""The download artefacts in their real layouts, fetched from loopback through the overrides."""

import json

import pytest

from ftcourse import download
from ftcourse.rehearsal import hosts


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    out = hosts.build_artefacts(tmp_path_factory.mktemp("files"), samples=None)
    with hosts.serve_files(out) as base:
        yield hosts.overrides(out, base)


@pytest.fixture
def rehearsal_env(served, tmp_path, monkeypatch):
    for name in ("HF_HUB_OFFLINE", "FTCOURSE_OFFLINE", "FTCOURSE_DATA_DIR", "FTCOURSE_GLOVE", "FTCOURSE_IMDB_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FTCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(download.OVERRIDES_ENV, str(served))
    return served


def test_fetch_unpacks_the_real_layouts(rehearsal_env, capsys):
    from ftcourse import data, vision

    imdb = data.load_imdb(profile="full")
    assert imdb.source.startswith("downloaded aclImdb_v1.tar.gz") and {y for y, _ in imdb.train} == {0, 1}
    news = data.load_ag_news(profile="full")
    assert news.classes == ["World", "Sports", "Business", "Sci/Tech"]
    assert data.glove(profile="full").dim == 100
    assert (download.fetch("glove.6B") / "glove.6B.300d.txt").is_file()
    letters = vision.load_emnist("letters", profile="full")
    assert len(letters.classes) == 26
    assert len(vision.load_emnist("digits", profile="full").classes) == 10


def test_a_changed_file_fails_its_checksum(rehearsal_env, monkeypatch, tmp_path):
    table = json.loads(rehearsal_env.read_text())
    table["aclImdb"]["sha256"] = "0" * 64
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(table))
    monkeypatch.setenv(download.OVERRIDES_ENV, str(bad))
    with pytest.raises(download.DownloadError, match="sha256"):
        download.fetch("aclImdb")


def test_a_malformed_override_names_the_fix(rehearsal_env, monkeypatch, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"aclImdb": {"url": "http://127.0.0.1:1/x"}}))
    monkeypatch.setenv(download.OVERRIDES_ENV, str(bad))
    with pytest.raises(ValueError, match="needs 'urls'"):
        download.fetch("aclImdb")
