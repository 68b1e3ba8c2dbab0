"""Text pieces that torchtext used to provide: `basic_english`, `Vocab`, and GloVe loading.

torchtext's last release (0.18) no longer loads with current PyTorch; these are drop-in
replacements with the same rules and indices. Taught in chapter 02.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

# torchtext.data.utils._basic_english_normalize, rule for rule and in the same order.
_BASIC_ENGLISH_RULES = [
    (re.compile(r"\'"), " '  "),
    (re.compile(r"\""), ""),
    (re.compile(r"\."), " . "),
    (re.compile(r"<br \/>"), " "),
    (re.compile(r","), " , "),
    (re.compile(r"\("), " ( "),
    (re.compile(r"\)"), " ) "),
    (re.compile(r"\!"), " ! "),
    (re.compile(r"\?"), " ? "),
    (re.compile(r"\;"), " "),
    (re.compile(r"\:"), " "),
    (re.compile(r"\s+"), " "),
]


def basic_english(text: str) -> list[str]:
    """Lower-case and split `text` exactly as torchtext's `get_tokenizer("basic_english")` does."""
    if not isinstance(text, str):
        raise TypeError(f"basic_english expects a str, got {type(text).__name__}")
    line = text.lower()
    for pattern, replacement in _BASIC_ENGLISH_RULES:
        line = pattern.sub(replacement, line)
    return line.split()


class Vocab:
    """Token <-> index mapping with specials first and a default index for unknown tokens.

    Mirrors `torchtext.vocab.vocab(ordered_dict, min_freq, specials)`: tokens keep their
    insertion order, specials come first, and `vocab["unseen"]` returns the default index
    once one is set (the seeds set it to `<unk>`).
    """

    def __init__(
        self,
        tokens: Iterable[str],
        specials: Sequence[str] = ("<unk>", "<pad>"),
        default_token: str | None = "<unk>",
    ) -> None:
        self.itos: list[str] = []
        self.stoi: dict[str, int] = {}
        for token in (*specials, *tokens):
            if token not in self.stoi:
                self.stoi[token] = len(self.itos)
                self.itos.append(token)
        self.specials = tuple(specials)
        self._default: int | None = None
        if default_token is not None:
            if default_token not in self.stoi:
                raise ValueError(
                    f"default token {default_token!r} is not in the vocabulary; add it to specials"
                )
            self._default = self.stoi[default_token]

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        min_freq: int = 1,
        specials: Sequence[str] = ("<unk>", "<pad>"),
        default_token: str | None = "<unk>",
    ) -> Vocab:
        """torchtext's `vocab(ordered_dict, min_freq, specials)`: keep order, drop rare tokens."""
        return cls((t for t, c in counts.items() if c >= min_freq), specials, default_token)

    @classmethod
    def from_iterator(
        cls,
        token_lists: Iterable[Iterable[str]],
        min_freq: int = 1,
        max_tokens: int | None = None,
        specials: Sequence[str] = ("<unk>", "<pad>"),
        default_token: str | None = "<unk>",
    ) -> Vocab:
        """torchtext's `build_vocab_from_iterator`: most frequent first, ties alphabetical."""
        counter: Counter[str] = Counter()
        for tokens in token_lists:
            counter.update(tokens)
        ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        if max_tokens is not None:
            if max_tokens <= len(specials):
                raise ValueError(
                    f"max_tokens={max_tokens} leaves no room beside the {len(specials)} specials; "
                    "raise max_tokens or pass max_tokens=None"
                )
            # torchtext cuts the ranking before dropping specials and rare tokens: same here,
            # so a special that also occurs in the corpus costs a slot as it did there.
            ranked = ranked[: max_tokens - len(specials)]
        kept = [t for t, c in ranked if c >= min_freq and t not in specials]
        return cls(kept, specials, default_token)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        index = self.stoi.get(token, self._default)
        if index is None:
            raise KeyError(
                f"token {token!r} is not in the vocabulary and no default index is set; "
                "call set_default_index(vocab['<unk>'])"
            )
        return index

    def __call__(self, tokens: Iterable[str]) -> list[int]:
        """Indices of `tokens` (torchtext's `vocab(tokens)` / `lookup_indices`)."""
        return [self[t] for t in tokens]

    def lookup_indices(self, tokens: Iterable[str]) -> list[int]:
        return self(tokens)

    def lookup_tokens(self, indices: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in indices]

    def set_default_index(self, index: int | None) -> None:
        if index is not None and not 0 <= index < len(self):
            raise IndexError(f"default index {index} is outside the vocabulary (size {len(self)})")
        self._default = index

    def get_default_index(self) -> int | None:
        return self._default

    def get_itos(self) -> list[str]:
        return list(self.itos)

    def get_stoi(self) -> dict[str, int]:
        return dict(self.stoi)

    @property
    def pad_index(self) -> int:
        """Index of `<pad>` (1 with the seeds' specials); raises when there is no `<pad>`."""
        if "<pad>" not in self.stoi:
            raise KeyError("this vocabulary has no '<pad>' token; build it with specials=('<unk>', '<pad>')")
        return self.stoi["<pad>"]

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={self.specials}, default_index={self._default})"


@dataclass
class GloVe:
    """Word vectors read from a GloVe text file: `itos[i]` has the vector `vectors[i]`."""

    itos: list[str]
    vectors: torch.Tensor
    path: Path | None = None
    skipped: int = 0
    skipped_lines: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stoi = {word: i for i, word in enumerate(self.itos)}

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: object) -> bool:
        return word in self.stoi

    def __getitem__(self, word: str) -> torch.Tensor:
        """The vector of `word`, zeros for a word GloVe does not know (as torchtext did)."""
        index = self.stoi.get(word)
        return self.vectors[index] if index is not None else torch.zeros(self.dim)

    def vocab(self, specials: Sequence[str] = ("<unk>", "<pad>")) -> Vocab:
        """The seeds' `vocab(glove.stoi, 0, specials=('<unk>', '<pad>'))` with `<unk>` as default."""
        return Vocab(self.itos, specials=specials, default_token=specials[0] if specials else None)

    def embedding_matrix(self, vocab: Vocab) -> torch.Tensor:
        """One row per vocabulary index: the word's GloVe vector, zeros for specials and unknowns.

        Aligned with `vocab` row for row. (The seeds pass `glove.vectors` directly, which is
        off by the two specials: vocabulary index 2 reads GloVe's third word.)
        """
        matrix = torch.zeros(len(vocab), self.dim, dtype=self.vectors.dtype)
        for index, token in enumerate(vocab.itos):
            row = self.stoi.get(token)
            if row is not None:
                matrix[index] = self.vectors[row]
        return matrix

    def coverage(self, tokens: Iterable[str]) -> float:
        """Fraction of `tokens` (with repeats) that have a vector."""
        total = hits = 0
        for token in tokens:
            total += 1
            hits += token in self.stoi
        return hits / total if total else 0.0


def _iter_lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from handle


def _is_header(number: int, parts: list[bytes]) -> bool:
    return number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts)


def _guess_dim(head: list[bytes]) -> int:
    # The most common field count of the first lines, so that one bad first line
    # cannot set the dimension for the whole file.
    counts = Counter(
        len(parts) - 1
        for number, raw in enumerate(head, start=1)
        if raw.strip() and not _is_header(number, parts := raw.rstrip().split(b" "))
    )
    return counts.most_common(1)[0][0] if counts else 0


def load_glove(
    path: str | Path,
    max_words: int | None = None,
    dim: int | None = None,
    warn: bool = True,
) -> GloVe:
    """Read a GloVe text file (`word v1 ... vD` per line) of any dimension.

    Lines that cannot be used are skipped and counted instead of stopping the load: tokens
    that are not valid UTF-8, a wrong number of fields, values that are not finite numbers, and
    repeated words (the first occurrence wins). A word2vec-style header (`N D`) is ignored.
    `dim` defaults to the most common dimension among the first 100 lines.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"GloVe file {str(path)!r} does not exist. Download glove.6B.zip from "
            "https://nlp.stanford.edu/projects/glove/ (or let ftcourse.data.glove() fetch it), "
            "name another file with FTCOURSE_GLOVE, or set FTCOURSE_PROFILE=ci."
        )
    words: list[str] = []
    rows: list[list[float]] = []
    seen: set[str] = set()
    skipped_lines: list[int] = []
    lines = _iter_lines(path)
    head = list(itertools.islice(lines, 100))
    if dim is None:
        dim = _guess_dim(head)
        if dim < 1:
            raise ValueError(f"{path}: the first lines hold no vectors; is this a GloVe text file?")
    for number, raw in enumerate(itertools.chain(head, lines), start=1):
        if max_words is not None and len(words) >= max_words:
            break
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        parts = raw.rstrip().split(b" ")
        if _is_header(number, parts):
            continue  # word2vec header: "<count> <dim>"
        if len(parts) != dim + 1:
            skipped_lines.append(number)
            continue
        try:
            word = parts[0].decode("utf-8")
            values = [float(v) for v in parts[1:]]
            if not all(math.isfinite(v) for v in values):
                raise ValueError("nan or inf")
        except (UnicodeDecodeError, ValueError):
            skipped_lines.append(number)
            continue
        if word in seen:
            skipped_lines.append(number)
            continue
        seen.add(word)
        words.append(word)
        rows.append(values)
    if not words:
        raise ValueError(f"{path}: no usable vectors found ({len(skipped_lines)} lines skipped)")
    if skipped_lines and warn:
        shown = ", ".join(map(str, skipped_lines[:5])) + (" ..." if len(skipped_lines) > 5 else "")
        warnings.warn(
            f"{path.name}: skipped {len(skipped_lines)} malformed line(s) (lines {shown}): "
            "non-UTF-8 token, wrong field count, bad number or repeated word; "
            f"loaded {len(words)} vectors of dimension {dim}.",
            stacklevel=2,
        )
    return GloVe(
        itos=words,
        vectors=torch.tensor(rows, dtype=torch.float32),
        path=path,
        skipped=len(skipped_lines),
        skipped_lines=skipped_lines,
    )


def save_glove(glove_or_words: GloVe | Sequence[str], path: str | Path, vectors=None) -> Path:
    """Write vectors in GloVe text format, atomically (temp file + rename)."""
    from ftcourse.results import atomic_write_text

    if isinstance(glove_or_words, GloVe):
        words, vectors = glove_or_words.itos, glove_or_words.vectors
    else:
        words = list(glove_or_words)
    if vectors is None or len(words) != len(vectors):
        raise ValueError("save_glove needs one vector per word")
    lines = (
        word + " " + " ".join(f"{float(v):.5f}" for v in row) for word, row in zip(words, vectors)
    )
    return atomic_write_text(Path(path), "\n".join(lines) + "\n")
