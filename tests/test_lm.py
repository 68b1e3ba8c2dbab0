"""ftcourse.lm: the WikiText reader keeps the hub's rows, generated text has its shape, perplexity."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("datasets", reason="the language-model chapter needs datasets (ftcourse[hf])")

from ftcourse import corpora, lm  # noqa: E402

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
    rows = corpora.generate_lm_corpus(300, seed=0)
    assert len(rows) == 300 and rows == corpora.generate_lm_corpus(300, seed=0)
    assert rows != corpora.generate_lm_corpus(300, seed=1)
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


# --- masked-language-model data (chapter 07) ----------------------------------------------------
def test_group_texts_cuts_full_blocks_between_cls_and_sep():
    rows = [[10, 11, 12], [], [13, 14], [15, 16, 17, 18, 19]]
    blocks = lm.group_texts(rows, block_size=5, cls_id=1, sep_id=2)
    assert blocks == [[1, 10, 11, 12, 2], [1, 13, 14, 15, 2], [1, 16, 17, 18, 2]]  # 19 is dropped
    assert lm.group_texts([[7, 8]], block_size=5, cls_id=1, sep_id=2) == [[1, 7, 8, 2]]  # the only block
    with pytest.raises(ValueError, match="no room"):
        lm.group_texts(rows, block_size=2, cls_id=1, sep_id=2)
    with pytest.raises(ValueError, match="every row was empty"):
        lm.group_texts([[], []], block_size=5, cls_id=1, sep_id=2)


@pytest.fixture(scope="module")
def bert_tokenizer():
    pytest.importorskip("transformers")
    from ftcourse import hf

    return hf.load_tokenizer("fill_mask", profile="ci")


def test_tokenize_for_mlm_drops_empty_rows_and_keeps_every_token(bert_tokenizer):
    from datasets import Dataset, DatasetDict

    rows = [r if r.strip() else "" for r in RAW.splitlines(keepends=True)] * 6
    data = DatasetDict({"train": Dataset.from_dict({"text": rows})})
    blocks = lm.tokenize_for_mlm(data, bert_tokenizer, block_size=16)["train"]
    assert len(blocks) > 3
    ids = [list(b) for b in blocks["input_ids"]]
    cls, sep = bert_tokenizer.cls_token_id, bert_tokenizer.sep_token_id
    assert all(len(b) == 16 and b[0] == cls and b[-1] == sep for b in ids)
    assert all(list(m) == [1] + [0] * 14 + [1] for m in blocks["special_tokens_mask"])
    assert all(set(m) == {1} for m in blocks["attention_mask"])
    stream = [i for r in rows if r for i in bert_tokenizer(r, add_special_tokens=False)["input_ids"]]
    inner = [i for b in ids for i in b[1:-1]]
    assert inner == stream[: len(inner)] and len(stream) - len(inner) < 14  # only the tail is lost
    single = lm.tokenize_for_mlm(data["train"], bert_tokenizer, block_size=16)  # a Dataset works too
    assert list(single["input_ids"]) == ids


def test_mask_once_is_fixed_and_the_collator_passes_it_through(bert_tokenizer):
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling

    rng = torch.Generator().manual_seed(0)
    body = torch.randint(10, len(bert_tokenizer), (40, 30), generator=rng)
    cls = torch.full((40, 1), bert_tokenizer.cls_token_id)
    sep = torch.full((40, 1), bert_tokenizer.sep_token_id)
    ids = torch.cat([cls, body, sep], dim=1)
    data = Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": torch.ones_like(ids).tolist()})
    a, b = lm.mask_once(data, bert_tokenizer, seed=3), lm.mask_once(data, bert_tokenizer, seed=3)
    c = lm.mask_once(data, bert_tokenizer, seed=4)
    assert list(a["labels"]) == list(b["labels"]) and list(a["input_ids"]) == list(b["input_ids"])
    assert list(a["labels"]) != list(c["labels"])
    labels = torch.tensor(list(a["labels"]))
    assert (labels[:, 0] == -100).all() and (labels[:, -1] == -100).all()  # never [CLS] or [SEP]
    chosen = labels != -100
    assert torch.equal(labels[chosen], ids[chosen])
    assert 0.10 < chosen.float().mean() < 0.20

    collator = lm.PremaskedCollator(DataCollatorForLanguageModeling(bert_tokenizer, mlm_probability=0.15))
    fixed = [a[i] for i in range(8)]
    first, second = collator(fixed), collator(fixed)
    assert torch.equal(first["labels"], second["labels"]) and torch.equal(first["labels"], labels[:8])
    assert torch.equal(first["input_ids"], torch.tensor(list(a["input_ids"])[:8]))
    fresh = [data[i] for i in range(8)]
    torch.manual_seed(0)
    one = collator(fresh)["labels"]
    two = collator(fresh)["labels"]
    assert not torch.equal(one, two)  # training batches get new masks each time
    with pytest.raises(ValueError, match="empty"):
        lm.mask_once(data.select([]), bert_tokenizer)


def test_premasked_collator_pads_uneven_fixed_sets(bert_tokenizer):
    from transformers import DataCollatorForLanguageModeling

    collator = lm.PremaskedCollator(DataCollatorForLanguageModeling(bert_tokenizer))
    out = collator([{"input_ids": [2, 50, 3], "attention_mask": [1, 1, 1], "labels": [-100, 50, -100]},
                    {"input_ids": [2, 3], "attention_mask": [1, 1], "labels": [-100, -100]}])
    assert out["input_ids"].tolist() == [[2, 50, 3], [2, 3, bert_tokenizer.pad_token_id]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert out["labels"].tolist() == [[-100, 50, -100], [-100, -100, -100]]


def test_masking_shares_counts_the_80_10_10_rule():
    original = torch.tensor([[1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 2]])
    masked = original.clone()
    masked[0, 1:5] = 4  # four chosen tokens became [MASK] (id 4)
    masked[0, 5] = 99  # one became a random token
    labels = torch.full_like(original, -100)
    labels[0, 1:7] = original[0, 1:7]  # six chosen: 4 masked, 1 random, 1 kept (position 6)
    shares = lm.masking_shares(original, masked, labels, mask_token_id=4, special_ids=[1, 2])
    assert shares == pytest.approx({"chosen": 0.6, "mask": 4 / 6, "random": 1 / 6, "kept": 1 / 6})
    with pytest.raises(ValueError, match="nothing was masked"):
        lm.masking_shares(original, original, torch.full_like(original, -100), 4, [1, 2])
    wrong = labels.clone()
    wrong[0, 1] = 77
    with pytest.raises(ValueError, match="original ids"):
        lm.masking_shares(original, masked, wrong, 4, [1, 2])


def test_unigram_perplexity():
    # Counts 3 x id 5 and 1 x id 6 (+1 smoothing over 2 ids): p(5) = 4/6, p(6) = 2/6.
    value = lm.unigram_perplexity([[5, 5], [5, 6]], [[5, -100, 6]])
    assert value == pytest.approx(math.exp(-(math.log(4 / 6) + math.log(2 / 6)) / 2))
    # Every token equally frequent: the perplexity is the number of distinct tokens.
    assert lm.unigram_perplexity([list(range(50))] * 4, [list(range(50))]) == pytest.approx(50)
    with pytest.raises(ValueError, match="at least one label"):
        lm.unigram_perplexity([[1, 2]], [[-100]])
