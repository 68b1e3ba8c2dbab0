"""basic_english, Vocab and GloVe loading: torchtext's rules and indices, and robustness to bad files."""

import statistics
import warnings
from pathlib import Path

import pytest
import torch

from ftcourse import text
from ftcourse.text import GloVe, Vocab, basic_english, load_glove, save_glove

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# --- basic_english -------------------------------------------------------------------------

# torchtext/data/utils.py (0.18), `_patterns` and `_replacements`, in order.
TORCHTEXT_PATTERNS = [r"\'", r"\"", r"\.", r"<br \/>", r",", r"\(", r"\)", r"\!", r"\?", r"\;", r"\:", r"\s+"]
TORCHTEXT_REPLACEMENTS = [" '  ", "", " . ", " ", " , ", " ( ", " ) ", " ! ", " ? ", " ", " ", " "]


def test_rules_are_torchtexts_in_the_same_order():
    assert [p.pattern for p, _ in text._BASIC_ENGLISH_RULES] == TORCHTEXT_PATTERNS
    assert [r for _, r in text._BASIC_ENGLISH_RULES] == TORCHTEXT_REPLACEMENTS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # torchtext's own docstring example
        ("You can now install TorchText using pip!",
         ["you", "can", "now", "install", "torchtext", "using", "pip", "!"]),
        # ' becomes " '  ": the apostrophe is its own token and splits the word
        ("don't", ["don", "'", "t"]),
        ("It's 'quoted'", ["it", "'", "s", "'", "quoted", "'"]),
        ("don\u2019t", ["don\u2019t"]),  # a typographic apostrophe is not touched
        # " is deleted, so it can glue two words together
        ('She said "no" twice', ["she", "said", "no", "twice"]),
        ('a"b', ["ab"]),
        ('"', []),
        # <br /> becomes a space; '.' was already split off before
        ("Great film.<br /><br />Loved it", ["great", "film", ".", "loved", "it"]),
        ("one<br />two", ["one", "two"]),
        ("<BR />", []),
        ("<br/>", ["<br/>"]),  # only the exact "<br />" form is a rule
        # punctuation runs: one token per mark
        ("wow!!!", ["wow", "!", "!", "!"]),
        ("...", [".", ".", "."]),
        ("?!", ["?", "!"]),
        ("e.g. U.S.", ["e", ".", "g", ".", "u", ".", "s", "."]),
        # numbers are cut at '.', ',' and ':' like any other text
        ("3.5", ["3", ".", "5"]),
        ("1,000", ["1", ",", "000"]),
        ("10:30", ["10", "30"]),
        ("$9.99", ["$9", ".", "99"]),
        # ';' and ':' are dropped, parentheses kept as tokens
        ("a;b:c", ["a", "b", "c"]),
        ("(yes)", ["(", "yes", ")"]),
        # whitespace of any kind separates
        ("tab\there\nnew line\r\n", ["tab", "here", "new", "line"]),
        ("a\u00a0b", ["a", "b"]),
        # everything else stays inside the word
        ("well-known and/or #1 @user 50%", ["well-known", "and/or", "#1", "@user", "50%"]),
        # unicode: lower-cased, accents and emoji kept
        ("Café É 😀 naïve", ["café", "é", "😀", "naïve"]),
        ("Crème BRÛLÉE", ["crème", "brûlée"]),
        ("¿Qué?", ["¿qué", "?"]),
        ("", []),
        ("   ", []),
    ],
)
def test_basic_english(raw, expected):
    assert basic_english(raw) == expected


@pytest.mark.parametrize("bad", [None, b"bytes", 5, ["a list"]])
def test_basic_english_rejects_non_str(bad):
    with pytest.raises(TypeError, match="expects a str"):
        basic_english(bad)


# --- Vocab ---------------------------------------------------------------------------------


def test_vocab_specials_first_and_default_index():
    vocab = Vocab(["the", "cat", "the"])
    assert vocab.itos == ["<unk>", "<pad>", "the", "cat"]
    assert vocab.stoi == {"<unk>": 0, "<pad>": 1, "the": 2, "cat": 3}
    assert vocab.pad_index == 1 and vocab.get_default_index() == 0
    assert vocab(["cat", "zebra", "the"]) == [3, 0, 2]
    assert vocab.lookup_tokens([2, 3, 1]) == ["the", "cat", "<pad>"]
    assert "cat" in vocab and "zebra" not in vocab and len(vocab) == 4


def test_vocab_without_default_raises_a_key_error_that_names_the_fix():
    vocab = Vocab(["a"], default_token=None)
    with pytest.raises(KeyError, match="set_default_index"):
        vocab["b"]
    vocab.set_default_index(vocab["<unk>"])
    assert vocab["b"] == 0
    with pytest.raises(IndexError, match="outside the vocabulary"):
        vocab.set_default_index(99)


def test_vocab_bad_specials():
    with pytest.raises(ValueError, match="add it to specials"):
        Vocab(["a"], specials=("<pad>",))
    with pytest.raises(KeyError, match="no '<pad>'"):
        _ = Vocab(["a"], specials=("<unk>",)).pad_index


def _tiny_glove(words, dim=3):
    vectors = torch.arange(len(words) * dim, dtype=torch.float32).reshape(len(words), dim) + 1
    return GloVe(itos=list(words), vectors=vectors)


def test_seed_layout_glove_word_i_at_index_i_plus_2():
    # GloVe 6B's first words; 'he' is the 19th (row 18), and the seed prints vocab(['he']) == [20].
    words = ("the , . of to and in a \" 's for - that on is was said with he").split()
    glove = _tiny_glove(words)
    assert glove.stoi["he"] == 18
    vocab = glove.vocab()
    assert vocab(["he"]) == [20]
    assert len(vocab) == len(words) + 2
    assert all(vocab[w] == i + 2 for i, w in enumerate(words))
    # the seed's exact call: vocab(glove.stoi, 0, specials=('<unk>', '<pad>'))
    assert Vocab.from_counts(glove.stoi, min_freq=0).itos == vocab.itos
    # with torchtext's default min_freq=1, 'the' (stoi value 0) would be dropped: hence the 0
    assert "the" not in Vocab.from_counts(glove.stoi)


CORPUS = [["the", "cat", "the", "dog"], ["a", "cat", "the"]]  # the:3 cat:2 a:1 dog:1


def test_from_iterator_frequency_then_alphabetical():
    assert Vocab.from_iterator(CORPUS).itos == ["<unk>", "<pad>", "the", "cat", "a", "dog"]


def test_from_iterator_min_freq_and_max_tokens():
    assert Vocab.from_iterator(CORPUS, min_freq=2).itos == ["<unk>", "<pad>", "the", "cat"]
    assert Vocab.from_iterator(CORPUS, max_tokens=4).itos == ["<unk>", "<pad>", "the", "cat"]
    assert len(Vocab.from_iterator(CORPUS, max_tokens=100)) == 6
    with pytest.raises(ValueError, match="max_tokens=2 leaves no room"):
        Vocab.from_iterator(CORPUS, max_tokens=2)


def test_from_iterator_special_in_corpus_costs_a_slot_as_in_torchtext():
    # torchtext cuts the ranking to max_tokens - len(specials) first, then drops specials.
    vocab = Vocab.from_iterator([["<unk>", "<unk>", "<unk>", "x", "y"]], max_tokens=4)
    assert vocab.itos == ["<unk>", "<pad>", "x"]


# --- load_glove ----------------------------------------------------------------------------

MESSY = [
    b"the 0.1 0.2 0.3",  # 1
    b", 0.4 0.5 0.6",  # 2
    b"bad 1.0 2.0",  # 3 wrong field count
    b"caf\xe9 0.1 0.1 0.1",  # 4 Latin-1 bytes: not UTF-8
    b"oops 0.1 abc 0.3",  # 5 not a number
    b"the 9 9 9",  # 6 repeated word
    b"",  # 7 blank line: ignored, not counted
    b"caf\xc3\xa9 0.7 0.8 0.9",  # 8 valid UTF-8
    b"gap 1 nan 2",  # 9 nan value
    b"nan 0.5 0.5 0.5",  # 10 the word "nan" is a real GloVe word
    b"inf 1e-3 -2E+1 3\r",  # 11 scientific notation and a CRLF ending
]


@pytest.fixture
def messy(tmp_path):
    path = tmp_path / "messy.txt"
    path.write_bytes(b"\n".join(MESSY) + b"\n")
    return path


def test_load_glove_skips_and_counts_bad_lines(messy):
    with pytest.warns(UserWarning) as record:
        glove = load_glove(messy)
    assert glove.itos == ["the", ",", "café", "nan", "inf"]
    assert glove.dim == 3 and glove.vectors.shape == (5, 3) and glove.vectors.dtype == torch.float32
    assert glove.skipped == 5 and glove.skipped_lines == [3, 4, 5, 6, 9]
    assert torch.equal(glove["the"], torch.tensor([0.1, 0.2, 0.3]))  # the first "the" wins
    assert torch.allclose(glove["inf"], torch.tensor([1e-3, -20.0, 3.0]))
    assert torch.equal(glove["unseen"], torch.zeros(3))
    (warning,) = record
    assert str(warning.message) == (
        "messy.txt: skipped 5 malformed line(s) (lines 3, 4, 5, 6, 9): non-UTF-8 token, "
        "wrong field count, bad number or repeated word; loaded 5 vectors of dimension 3."
    )


def test_load_glove_quiet_when_asked(messy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_glove(messy, warn=False).skipped == 5


def test_load_glove_max_words_counts_good_words(messy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # lines after the stop are never read, so none skipped
        glove = load_glove(messy, max_words=2)
    assert glove.itos == ["the", ","] and glove.skipped == 0


def test_load_glove_word2vec_header(tmp_path):
    path = tmp_path / "w2v.txt"
    path.write_bytes(b"3 3\nthe 1 2 3\na 4 5 6\nb 7 8 9\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        glove = load_glove(path)
    assert glove.itos == ["the", "a", "b"] and glove.skipped == 0 and glove.dim == 3


def test_load_glove_bad_first_line_does_not_set_the_dimension(tmp_path):
    path = tmp_path / "first_bad.txt"
    path.write_bytes(b"broken 1 2\nthe 1 2 3\na 4 5 6\nb 7 8 9\n")
    with pytest.warns(UserWarning, match="lines 1\\)"):
        glove = load_glove(path)
    assert glove.itos == ["the", "a", "b"] and glove.dim == 3 and glove.skipped_lines == [1]


@pytest.mark.parametrize("dim", [1, 3, 25, 50])
def test_load_glove_any_dimension(tmp_path, dim):
    words = [f"w{i}" for i in range(7)]
    vectors = torch.randn(7, dim)
    path = save_glove(words, tmp_path / f"v{dim}.txt", vectors)
    glove = load_glove(path)
    assert glove.dim == dim and glove.itos == words
    assert torch.allclose(glove.vectors, vectors, atol=1e-5)
    assert load_glove(path, dim=dim).dim == dim


def test_load_glove_explicit_dim_that_does_not_match(tmp_path):
    path = save_glove(["a", "b"], tmp_path / "v.txt", torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"no usable vectors found \(2 lines skipped\)"):
        load_glove(path, dim=5)


def test_load_glove_empty_or_not_glove(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="no vectors"):
        load_glove(empty)
    words_only = tmp_path / "words.txt"
    words_only.write_bytes(b"the\ncat\n")
    with pytest.raises(ValueError, match="is this a GloVe text file"):
        load_glove(words_only)


def test_load_glove_missing_file_names_the_fixes(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_glove(tmp_path / "glove.6B.100d.txt")
    message = str(info.value)
    assert "FTCOURSE_GLOVE" in message and "FTCOURSE_PROFILE=ci" in message
    assert "glove.6B.100d.txt" in message


def test_save_glove_is_atomic_and_checks_lengths(tmp_path):
    save_glove(["a"], tmp_path / "one.txt", torch.ones(1, 2))
    assert [p.name for p in tmp_path.iterdir()] == ["one.txt"]  # no temp file left behind
    with pytest.raises(ValueError, match="one vector per word"):
        save_glove(["a", "b"], tmp_path / "two.txt", torch.ones(1, 2))


def test_embedding_matrix_is_aligned_with_the_vocab():
    glove = _tiny_glove(["the", "cat", "sat"])
    vocab = Vocab(["cat", "dog", "the"])
    matrix = glove.embedding_matrix(vocab)
    assert matrix.shape == (5, 3)
    assert torch.equal(matrix[vocab["<unk>"]], torch.zeros(3))
    assert torch.equal(matrix[vocab["<pad>"]], torch.zeros(3))
    assert torch.equal(matrix[vocab["cat"]], glove["cat"])
    assert torch.equal(matrix[vocab["dog"]], torch.zeros(3))  # not in GloVe
    assert torch.equal(matrix[vocab["the"]], glove["the"])
    # with the seed's layout, row i + 2 is GloVe row i; glove.vectors itself is off by two
    full = glove.embedding_matrix(glove.vocab())
    assert torch.equal(full[2:], glove.vectors) and not full[:2].any()
    assert not torch.equal(full[2], glove.vectors[2])


def test_coverage_counts_repeats():
    glove = _tiny_glove(["the", "cat"])
    assert glove.coverage(["the", "the", "dog", "cat"]) == 0.75
    assert glove.coverage([]) == 0.0


# --- real samples (../shared/data) -----------------------------------------------------------


@pytest.fixture
def data():
    if not DATA.is_dir():
        pytest.skip(f"real data samples not found at {DATA} (only the project's own checkout has them)")
    return DATA


@pytest.mark.realdata
def test_real_glove_6b_50d(data):
    path = data / "glove" / "glove.6B.50d.first2445.txt"
    with pytest.warns(UserWarning, match="skipped 5 malformed"):
        glove = load_glove(path)
    assert len(glove) == 2440 and glove.dim == 50 and glove.skipped == 5
    assert glove.skipped_lines == [218, 785, 1329, 1409, 1420]
    assert glove.vocab()(["he"]) == [20]  # as the seed prints for the full file
    # Those 5 tokens are Windows-1252 punctuation (dashes and curly quotes), not UTF-8.
    lines = path.read_bytes().split(b"\n")
    tokens = [lines[n - 1].split(b" ")[0] for n in glove.skipped_lines]
    assert [t.decode("cp1252") for t in tokens] == ["\u2013", "\u2019s", "\u2014", "\u201c", "\u201d"]
    # Decoding them lossily would have collided: 4 become the same replacement character.
    lossy = [t.decode("utf-8", errors="replace") for t in tokens]
    assert len(lossy) - len(set(lossy)) == 3


@pytest.mark.realdata
def test_real_glove_twitter_25d(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        glove = load_glove(data / "glove" / "glove.twitter.27B.25d.common11925.txt")
    assert len(glove) == 11925 and glove.dim == 25 and glove.skipped == 0


@pytest.mark.realdata
def test_real_imdb_tokens(data):
    files = sorted((data / "aclImdb_small").glob("*/*/*.txt"))
    assert len(files) == 4000
    lengths = []
    for file in files:
        tokens = basic_english(file.read_text(encoding="utf-8"))
        assert not any("<br" in t or t != t.lower() for t in tokens)
        lengths.append(len(tokens))
    assert round(statistics.mean(lengths)) == 272 and statistics.median(lengths) == 204
    assert max(lengths) == 1701
