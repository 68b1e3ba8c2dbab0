"""ftcourse.ner: CoNLL-2003 reading (IOB1 and IOB2, -DOCSTART-), generated sentences, label alignment,
metrics, and predictions turned back into words and entities."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("datasets", reason="the NER chapter needs datasets (ftcourse[hf])")

from ftcourse import corpora, ner  # noqa: E402
from ftcourse.ner import NER_LABELS, align_labels, iob1_to_iob2  # noqa: E402

LABEL = {name: i for i, name in enumerate(NER_LABELS)}

# Our own sentences in the shared task's 4-column layout (token POS chunk NER), tags in IOB1:
# entities open with I-, and B- only separates two adjacent entities of the same type.
ENG_IOB1 = """-DOCSTART- -X- -X- O

Anna NNP B-NP I-PER
Keller NNP I-NP I-PER
joined VBD B-VP O
Northwind NNP B-NP I-ORG
Bank NNP I-NP I-ORG
in IN B-PP O
Buenos NNP B-NP I-LOC
Aires NNP I-NP I-LOC
. . O O

France NNP B-NP I-LOC
Germany NNP I-NP B-LOC
talks NNS I-NP O

-DOCSTART- -X- -X- O

Peru NNP B-NP I-LOC
"""
# The same sentences as the common train.txt copies have them: IOB2, no blank line at the end.
TRAIN_IOB2 = ENG_IOB1.replace("Anna NNP B-NP I-PER", "Anna NNP B-NP B-PER").replace(
    "Northwind NNP B-NP I-ORG", "Northwind NNP B-NP B-ORG").replace(
    "Buenos NNP B-NP I-LOC", "Buenos NNP B-NP B-LOC").replace(
    "France NNP B-NP I-LOC", "France NNP B-NP B-LOC").replace(
    "Peru NNP B-NP I-LOC", "Peru NNP B-NP B-LOC").rstrip("\n")
EXPECTED = [
    {"tokens": ["Anna", "Keller", "joined", "Northwind", "Bank", "in", "Buenos", "Aires", "."],
     "tags": ["B-PER", "I-PER", "O", "B-ORG", "I-ORG", "O", "B-LOC", "I-LOC", "O"]},
    {"tokens": ["France", "Germany", "talks"], "tags": ["B-LOC", "B-LOC", "O"]},
    {"tokens": ["Peru"], "tags": ["B-LOC"]},
]


# --- IOB1 -> IOB2 ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("iob1", "iob2"),
    [
        (["I-PER", "I-PER", "O", "I-LOC"], ["B-PER", "I-PER", "O", "B-LOC"]),
        (["I-PER", "B-PER", "I-PER"], ["B-PER", "B-PER", "I-PER"]),  # two adjacent people
        (["I-ORG", "I-LOC"], ["B-ORG", "B-LOC"]),  # a type change opens an entity
        (["B-MISC", "I-MISC", "O"], ["B-MISC", "I-MISC", "O"]),  # IOB2 stays as it is
        ([], []),
    ],
)
def test_iob1_to_iob2(iob1, iob2):
    assert iob1_to_iob2(iob1) == iob2
    assert iob1_to_iob2(iob2) == iob2


# --- reading files --------------------------------------------------------------------------
def test_read_conll_original_iob1_file(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text(ENG_IOB1, encoding="utf-8")
    assert ner.read_conll(path) == EXPECTED


def test_read_conll_iob2_copy_gives_the_same_sentences(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(TRAIN_IOB2, encoding="utf-8")
    assert ner.read_conll(path) == EXPECTED


def test_read_conll_survives_latin1_and_crlf(tmp_path):
    path = tmp_path / "eng.testa"
    path.write_bytes("Jos\xe9 NNP B-NP I-PER\r\nsaid VBD B-VP O\r\n".encode("latin-1"))
    assert ner.read_conll(path) == [{"tokens": ["Jos\xe9", "said"], "tags": ["B-PER", "O"]}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Anna NNP B-NP I-PER\nKeller\n", r":2: expected 'token POS chunk NER'"),
        ("Anna NNP I-PER B-NP-X\n", r":1: 'B-NP-X' is not an IOB tag"),
        ("-DOCSTART- -X- -X- O\n\n", "holds no sentences"),
    ],
)
def test_read_conll_rejects_bad_files_with_the_line(tmp_path, content, message):
    path = tmp_path / "eng.train"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        ner.read_conll(path)


@pytest.mark.parametrize("names", [("eng.train", "eng.testa", "eng.testb"), ("train.txt", "valid.txt", "test.txt")])
def test_load_conll_from_a_data_dir_in_either_naming(tmp_path, monkeypatch, names):
    folder = tmp_path / "conll2003"
    folder.mkdir()
    for name in names:
        (folder / name).write_text(ENG_IOB1, encoding="utf-8")
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    ds, source = ner.load_conll(profile="full")
    assert list(ds) == ["train", "validation", "test"]
    assert ds["train"].features["ner_tags"].feature.names == list(NER_LABELS)
    assert ds["validation"][0]["tokens"] == EXPECTED[0]["tokens"]
    assert ds["test"][1]["ner_tags"] == [LABEL["B-LOC"], LABEL["B-LOC"], LABEL["O"]]
    assert source == f"CoNLL-2003 files in {folder}" and not hasattr(ds, "source")


def test_load_conll_data_dir_errors_say_what_to_do(tmp_path, monkeypatch):
    folder = tmp_path / "conll2003"
    folder.mkdir()
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="eng.train or train.txt.*FTCOURSE_PROFILE=ci"):
        ner.load_conll(profile="full")
    for name in ("train.txt", "valid.txt", "test.txt"):
        (folder / name).write_text("Acme NNP B-NP B-GPE\n", encoding="utf-8")
    with pytest.raises(ValueError, match="'B-GPE'.* not CoNLL-2003 labels"):
        ner.load_conll(profile="full")


# --- generated sentences (ci) ---------------------------------------------------------------
def test_generated_sentences_are_valid_iob2_with_every_entity_type():
    sentences = corpora.generate_ner(400, seed=0)
    assert sentences == corpora.generate_ner(400, seed=0)
    assert sentences != corpora.generate_ner(400, seed=1)
    kinds = set()
    multiword = 0
    for s in sentences:
        assert len(s["tokens"]) == len(s["tags"]) > 0
        assert iob1_to_iob2(s["tags"]) == s["tags"]  # no I- without its B-
        kinds |= {t[2:] for t in s["tags"] if t != "O"}
        multiword += any(t.startswith("I-") for t in s["tags"])
    assert kinds == {"PER", "ORG", "LOC", "MISC"}
    assert multiword > 100
    # Capitalised words that are not entities (days, sentence starts) keep the task honest.
    assert any(tok[0].isupper() and tag == "O" for s in sentences for tok, tag in zip(s["tokens"], s["tags"]))


def test_load_conll_ci_has_the_hub_layout():
    ds, source = ner.load_conll(profile="ci")
    assert {k: len(v) for k, v in ds.items()} == dict(zip(ner.SPLIT_FILES, ner.CI_SIZES))
    assert ds["train"].features["ner_tags"].feature.names == list(NER_LABELS)
    assert ds["train"][0]["tokens"] != ds["test"][0]["tokens"] or ds["train"][1] != ds["test"][1]
    assert "generated" in source and ner.load_conll(profile="ci").source == source


# --- label alignment ------------------------------------------------------------------------
def test_align_labels_first_piece_only():
    # [CLS] Kovanira(3 pieces) visited Paris . [SEP]
    word_ids = [None, 0, 0, 0, 1, 2, 3, None]
    labels = [LABEL["B-PER"], LABEL["O"], LABEL["B-LOC"], LABEL["O"]]
    assert align_labels(word_ids, labels) == [-100, 1, -100, -100, 0, 5, 0, -100]
    assert align_labels(word_ids, labels, label_all_tokens=True) == [-100, 1, 1, 1, 0, 5, 0, -100]


def test_align_labels_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="different sentences"):
        align_labels([None, 0, 1, 2, None], [0, 0])


def _piece_tokenizer():
    from transformers import BertTokenizerFast

    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Ko", "##va", "##nira", "visited", "Paris", "."]
    return BertTokenizerFast(vocab={p: i for i, p in enumerate(pieces)}, do_lower_case=False)


def test_tokenize_and_align_on_a_word_split_into_three_pieces():
    tokenizer = _piece_tokenizer()
    batch = {"tokens": [["Kovanira", "visited", "Paris", "."], ["Paris", "."]],
             "ner_tags": [[LABEL["B-PER"], 0, LABEL["B-LOC"], 0], [LABEL["B-LOC"], 0]]}
    encoded = ner.tokenize_and_align(batch, tokenizer)
    assert tokenizer.convert_ids_to_tokens(encoded["input_ids"][0]) == [
        "[CLS]", "Ko", "##va", "##nira", "visited", "Paris", ".", "[SEP]"]
    assert encoded["labels"][0] == [-100, 1, -100, -100, 0, 5, 0, -100]
    assert encoded["labels"][1] == [-100, 5, 0, -100]
    truncated = ner.tokenize_and_align(batch, tokenizer, max_length=4)
    assert truncated["labels"][0] == [-100, 1, -100, -100]


def test_tokenize_and_align_works_with_dataset_map_and_says_how_to_call_it():
    tokenizer = _piece_tokenizer()
    ds = ner.to_dataset([{"tokens": ["Kovanira", "visited", "Paris"], "tags": ["B-PER", "O", "B-LOC"]}])
    mapped = ds.map(lambda b: ner.tokenize_and_align(b, tokenizer), batched=True, remove_columns=ds.column_names)
    assert mapped[0]["labels"] == [-100, 1, -100, -100, 0, 5, -100]
    with pytest.raises(TypeError, match="batched=True"):
        ner.tokenize_and_align({"tokens": ["Paris"], "ner_tags": [5]}, tokenizer)

    class Slow:
        is_fast = False

    with pytest.raises(TypeError, match="fast tokenizer"):
        ner.tokenize_and_align({"tokens": [["Paris"]], "ner_tags": [[5]]}, Slow())


# --- metrics --------------------------------------------------------------------------------
def test_ner_metrics_entity_level_and_ignores_minus_100():
    pytest.importorskip("seqeval", reason="NER metrics use seqeval (ftcourse[nlp-eval])")
    labels = np.array([[-100, 1, 2, 0, 5, -100], [-100, 3, 0, 0, -100, -100]])
    perfect = labels.copy()
    perfect[perfect == -100] = 7  # whatever is predicted at ignored positions does not count
    assert ner.ner_metrics(perfect, labels) == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "accuracy": 1.0}
    wrong = perfect.copy()
    wrong[0, 2] = 0  # "B-PER I-PER" cut to "B-PER": that entity is wrong, the other two right
    logits = np.eye(len(NER_LABELS))[wrong]  # logits work as well as ids
    scores = ner.ner_metrics(logits, labels)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["accuracy"] == pytest.approx(6 / 7)
    with pytest.raises(ValueError, match="do not match"):
        ner.ner_metrics(wrong[:, :3], labels)


def test_per_entity_metrics_counts_each_type():
    pytest.importorskip("seqeval", reason="NER metrics use seqeval (ftcourse[nlp-eval])")
    # gold: PER (2 words), LOC | ORG; predicted: PER right, LOC missed, ORG right, one false MISC
    labels = np.array([[-100, 1, 2, 0, 5, -100], [-100, 3, 0, 0, -100, -100]])
    pred = np.array([[0, 1, 2, 0, 0, 0], [0, 3, 0, 7, 0, 0]])
    report = ner.per_entity_metrics(pred, labels)
    assert list(report) == ["PER", "ORG", "LOC", "MISC"]
    assert report["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert report["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["MISC"]["precision"] == 0.0 and report["MISC"]["support"] == 0
    overall = ner.ner_metrics(pred, labels)
    assert overall["precision"] == pytest.approx(2 / 3) and overall["recall"] == pytest.approx(2 / 3)


# --- from predictions back to entities ------------------------------------------------------
def test_split_words_as_conll_does():
    assert ner.split_words("Germany's Anna Keller won 2-1, in U.S. $1,000!") == [
        "Germany", "'s", "Anna", "Keller", "won", "2-1", ",", "in", "U.S", ".", "$", "1,000", "!"]
    assert ner.split_words("   ") == []


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
        (["B-LOC", "B-LOC", "I-LOC"], [("LOC", 0, 1), ("LOC", 1, 3)]),  # two adjacent places
        (["O", "I-ORG", "I-ORG", "I-PER"], [("ORG", 1, 3), ("PER", 3, 4)]),  # I- without B- opens
        (["O", "O"], []),
        ([], []),
    ],
)
def test_entity_spans(tags, spans):
    assert ner.entity_spans(tags) == spans


def test_entity_spans_and_mark_entities_reject_bad_input():
    with pytest.raises(ValueError, match="'LABEL_3' is not an IOB tag"):
        ner.entity_spans(["O", "LABEL_3"])
    with pytest.raises(ValueError, match="3 words but 2 tags"):
        ner.mark_entities(["a", "b", "c"], ["O", "O"])


def test_mark_entities():
    words = ["Anna", "Keller", "joined", "Northwind", "Bank", "in", "Buenos", "Aires", "."]
    assert ner.mark_entities(words, EXPECTED[0]["tags"]) == (
        "[PER Anna Keller] joined [ORG Northwind Bank] in [LOC Buenos Aires] .")


PIECES = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Ko", "##va", "##nira", "visited", "Paris",
          ".", "New", "York", "and"]
# What the lookup model predicts for each piece: "##va" says I-LOC, but only a word's first piece counts.
PIECE_TAG = {"Ko": "B-PER", "##va": "I-LOC", "Paris": "B-LOC", "New": "B-LOC", "York": "I-LOC"}


class LookupTagger(torch.nn.Module):
    """A token classifier whose logits are a fixed table lookup: the tags of PIECE_TAG."""

    def __init__(self, id2label=None, max_positions=16):
        super().__init__()
        self.config = SimpleNamespace(id2label=id2label or dict(enumerate(NER_LABELS)),
                                      max_position_embeddings=max_positions)
        table = torch.zeros(len(PIECES), len(NER_LABELS))
        for i, piece in enumerate(PIECES):
            table[i, LABEL[PIECE_TAG.get(piece, "O")]] = 1.0
        self.table = torch.nn.Embedding.from_pretrained(table)
        self.calls = []

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        self.calls.append(self.training)
        return SimpleNamespace(logits=self.table(input_ids))


def _tokenizer_with_york():
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab={p: i for i, p in enumerate(PIECES)}, do_lower_case=False)


def test_predict_tags_reads_the_first_piece_of_each_word():
    tokenizer, model = _tokenizer_with_york(), LookupTagger()
    model.train()
    words = ["Kovanira", "visited", "New", "York", "and", "Paris", "."]
    assert ner.predict_tags(words, model, tokenizer) == ["B-PER", "O", "B-LOC", "I-LOC", "O", "B-LOC", "O"]
    assert model.calls == [False] and model.training  # predicted in eval mode, training mode restored
    assert ner.predict_tags([], model, tokenizer) == []


def test_predict_entities_from_text_and_from_words():
    tokenizer, model = _tokenizer_with_york(), LookupTagger()
    # Entity text is cut from the original string, spacing included.
    assert ner.predict_entities("Kovanira visited New  York and Paris.", model, tokenizer) == [
        ("Kovanira", "PER"), ("New  York", "LOC"), ("Paris", "LOC")]
    assert ner.predict_entities(["New", "York", "."], model, tokenizer) == [("New York", "LOC")]
    assert ner.predict_entities("visited and .", model, tokenizer) == []


def test_predict_entities_errors_name_the_fix():
    tokenizer = _tokenizer_with_york()
    with pytest.raises(ValueError, match="no words"):
        ner.predict_entities("  ", LookupTagger(), tokenizer)
    with pytest.raises(ValueError, match="no words"):
        ner.predict_entities([], LookupTagger(), tokenizer)
    with pytest.raises(TypeError, match="predict_entities"):
        ner.predict_tags("Paris", LookupTagger(), tokenizer)
    with pytest.raises(ValueError, match="LABEL_0.*id2label="):
        ner.predict_entities("Paris", LookupTagger({0: "LABEL_0", 1: "LABEL_1"}), tokenizer)
    with pytest.raises(ValueError, match="more than the model's 8 positions: split the text"):
        ner.predict_entities("Paris . " * 4, LookupTagger(max_positions=8), tokenizer)


def test_predict_tags_with_a_real_token_classification_model():
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(PIECES), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=len(NER_LABELS),
                        id2label=dict(enumerate(NER_LABELS)))
    model = BertForTokenClassification(config)
    words = ["Kovanira", "visited", "Paris", "."]
    tags = ner.predict_tags(words, model, _tokenizer_with_york())
    assert len(tags) == len(words) and set(tags) <= set(NER_LABELS)
    assert ner.predict_tags(words, model, _tokenizer_with_york()) == tags
