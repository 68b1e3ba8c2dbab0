"""ftcourse.lm: the WikiText reader keeps the hub's rows, generated text has its shape, perplexity."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("datasets", reason="the language-model chapter needs datasets (ftcourse[hf])")

from ftcourse import lm  # noqa: E402

# Our own text in the layout of wiki.*.raw: blank lines hold one space, headings are " = ... = ".
RAW = (
    " \n"
    " = Ada Hale = \n"
    " \n"
    " Ada Hale is a painter from Lima . She studied in Paris from 1990 to 1994 . \n"
    " \n"
    " = = Early life = = \n"
    " \n"
    " Her father , a sailor , taught her to draw ships @-@ and maps . \n"
)


def _write(path, text=RAW):
    path.write_text(text, encoding="utf-8")
    return path


def test_read_wikitext_keeps_one_row_per_line_as_the_hub_does(tmp_path):
    rows = lm.read_wikitext(_write(tmp_path / "wiki.train.raw"))
    assert len(rows) == RAW.count("\n")
    assert rows[0] == "" and rows[2] == ""  # blank lines become empty rows
    assert rows[1] == " = Ada Hale = \n"  # the others keep their spaces and newline
    assert rows[-1].endswith("maps . \n")
    assert lm.read_wikitext(tmp_path / "wiki.train.raw", drop_empty=True) == [r for r in rows if r]


def test_read_wikitext_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"wiki\.\{train,valid,test\}\.raw"):
        lm.read_wikitext(tmp_path / "wiki.valid.raw")
    with pytest.raises(ValueError, match="holds no text"):
        lm.read_wikitext(_write(tmp_path / "wiki.test.raw", " \n \n"))


@pytest.mark.parametrize(
    ("row", "heading"),
    [(" = Ada Hale = \n", True), (" = = Early life = = \n", True), (" = = = Works = = = \n", True),
     (" She was born in 1990 = a year . \n", False), ("", False)],
)
def test_is_heading(row, heading):
    assert lm.is_heading(row) is heading


def test_load_wikitext_from_a_data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "wikitext-2-raw"
    folder.mkdir()
    for name in lm.WIKITEXT_FILES.values():
        _write(folder / name)
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    ds = lm.load_wikitext(profile="full")
    assert list(ds) == ["train", "validation", "test"]
    assert ds["validation"]["text"] == lm.read_wikitext(folder / "wiki.valid.raw")
    assert "" not in lm.load_wikitext(profile="full", drop_empty=True)["train"]["text"]
    (folder / "wiki.test.raw").unlink()
    with pytest.raises(FileNotFoundError):
        lm.load_wikitext(profile="full")


def test_generated_corpus_has_wikitexts_shape_and_is_deterministic():
    rows = lm.generate_lm_corpus(300, seed=0)
    assert len(rows) == 300 and rows == lm.generate_lm_corpus(300, seed=0)
    assert rows != lm.generate_lm_corpus(300, seed=1)
    headings = [r for r in rows if lm.is_heading(r)]
    text = [r for r in rows if r and not lm.is_heading(r)]
    assert 20 < len(headings) < len(text)
    assert rows.count("") > 100
    assert all(r.startswith(" ") and r.endswith(" \n") for r in text)
    assert not any("<br" in r for r in text)


def test_load_wikitext_ci_splits():
    ds = lm.load_wikitext(profile="ci")
    assert {k: len(v) for k, v in ds.items()} == dict(zip(lm.WIKITEXT_FILES, lm.CI_SIZES))
    assert ds["train"]["text"][:50] != ds["test"]["text"][:50]


# --- perplexity -----------------------------------------------------------------------------
def test_perplexity_is_exp_of_the_mean_loss():
    assert lm.perplexity(0.0) == 1.0
    assert lm.perplexity(2.0) == pytest.approx(math.e**2)
    assert lm.perplexity(torch.tensor(1.5)) == pytest.approx(math.exp(1.5))


def test_a_model_that_knows_nothing_hesitates_between_all_tokens():
    vocab = 50
    logits = torch.zeros(4, 7, vocab)  # the same score for every token: a uniform guess
    targets = torch.randint(0, vocab, (4, 7))
    targets[0, :3] = -100  # ignored positions, as for MLM labels, do not count
    loss = torch.nn.functional.cross_entropy(logits.view(-1, vocab), targets.view(-1), ignore_index=-100)
    assert lm.perplexity(loss) == pytest.approx(vocab, rel=1e-5)


def test_perplexity_guards():
    assert lm.perplexity(1e4) == math.inf  # too big for a float, not a crash
    with pytest.raises(ValueError, match="diverged"):
        lm.perplexity(float("nan"))
    with pytest.raises(ValueError, match="cannot be negative"):
        lm.perplexity(-0.5)
