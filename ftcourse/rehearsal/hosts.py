"""The download artefacts in their real archive layouts, served on loopback.

`build_artefacts(out, samples)` writes the four archives `ftcourse.download.fetch` unpacks, each in
the layout of the real file, and a JSON table of their loopback URLs, sizes and sha256 for
`FTCOURSE_DOWNLOAD_OVERRIDES`; `serve_files(out)` serves that folder. Only the rehearsal sets the
override: the real table in `ftcourse.download.ARTEFACTS` stays as it is.

Layouts (what each real archive holds):
- glove.6B.zip: glove.6B.{50,100,200,300}d.txt at its root (Stanford's zip);
- aclImdb_v1.tar.gz: aclImdb/{README,imdb.vocab,imdbEr.txt}, aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt,
  aclImdb/train/unsup/ (the dataset's README);
- ag_news_csv.tar.gz: ag_news_csv/{train.csv,test.csv,classes.txt,readme.txt} (Zhang et al.'s archive);
- emnist gzip.zip: gzip/emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte.gz (NIST's zip).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import json
import struct
import tarfile
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ftcourse.rehearsal.hub import serving

OVERRIDES_FILE = "overrides.json"
# artefact name of ftcourse.download -> the file name served
FILES = {"glove.6B": "glove.6B.zip", "aclImdb": "aclImdb_v1.tar.gz", "ag_news_csv": "ag_news_csv.tar.gz",
         "emnist": "gzip.zip"}


def _glove_zip(path: Path, samples: Path | None) -> None:
    import torch

    from ftcourse import data
    from ftcourse.text import load_glove

    real = samples / "glove" / "glove.6B.50d.first2445.txt" if samples else None
    if real is not None and real.is_file():
        vectors = load_glove(real, warn=False)  # real words and their real 50-d vectors
    else:
        vectors = data.glove(profile="ci")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for dim in (50, 100, 200, 300):  # wider files: the same vectors padded with zeros
            padded = torch.zeros(len(vectors.itos), dim)
            width = min(dim, vectors.dim)
            padded[:, :width] = vectors.vectors[:, :width]
            lines = [w + " " + " ".join(f"{x:.5f}" for x in row) for w, row in zip(vectors.itos, padded.tolist())]
            zf.writestr(f"glove.6B.{dim}d.txt", "\n".join(lines) + "\n")


def _tar_add(tf: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(payload), 0, 0o644
    tf.addfile(info, io.BytesIO(payload))


def _imdb_tar(path: Path, samples: Path | None) -> None:
    from ftcourse import corpora, data

    folder = samples / "aclImdb_small" if samples else None
    with tarfile.open(path, "w:gz") as tf:
        _tar_add(tf, "aclImdb/README", b"Large Movie Review Dataset v1.0 (rehearsal stand-in)\n")
        _tar_add(tf, "aclImdb/imdb.vocab", b"the\nand\na\nof\n")
        _tar_add(tf, "aclImdb/imdbEr.txt", b"0.0490972\n0.201363\n0.0333946\n0.099837\n")
        for split in ("train", "test"):
            if folder is not None and (folder / split).is_dir():
                items = data.read_imdb_split(folder, split)  # real reviews
            else:
                items = corpora.generate_reviews(400, seed=0 if split == "train" else 1)
            for k, (label, text) in enumerate(items):
                rating = 8 if label else 3
                _tar_add(tf, f"aclImdb/{split}/{'pos' if label else 'neg'}/{k}_{rating}.txt", text.encode())
        _tar_add(tf, "aclImdb/train/unsup/0_0.txt", b"An unlabelled review.")


def _ag_news_tar(path: Path, samples: Path | None) -> None:
    import csv

    from ftcourse import corpora, data

    folder = samples / "ag_news_csv" if samples else None
    with tarfile.open(path, "w:gz") as tf:
        for split in ("train", "test"):
            if folder is not None and (folder / f"{split}.csv").is_file():
                items = data.read_ag_news_csv(folder / f"{split}.csv")  # real articles
            else:
                items = corpora.generate_news(800, seed=0 if split == "train" else 1)
            out = io.StringIO()
            writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
            for label, text in items:
                writer.writerow([label + 1, "", text])
            _tar_add(tf, f"ag_news_csv/{split}.csv", out.getvalue().encode())
        _tar_add(tf, "ag_news_csv/classes.txt", b"World\nSports\nBusiness\nSci/Tech\n")
        _tar_add(tf, "ag_news_csv/readme.txt", b"AG's News Topic Classification Dataset (rehearsal stand-in)\n")


def _idx(array) -> bytes:
    import numpy as np

    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.tobytes(), mtime=0)


def _emnist_zip(path: Path, seed: int = 0) -> None:
    """EMNIST digits (labels 0..9) and letters (labels 1..26 = A..Z) as drawn glyphs, stored
    transposed as EMNIST stores them."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    font = ImageFont.load_default()
    splits = {"digits": ("0123456789", 0), "letters": ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for split, (chars, first) in splits.items():
            for part, per_class in (("train", 40), ("test", 10)):
                images, labels = [], []
                for k in range(per_class * len(chars)):
                    index = k % len(chars)
                    canvas = Image.new("L", (28, 28), 0)
                    dx, dy = rng.integers(4, 12, size=2)
                    ImageDraw.Draw(canvas).text((int(dx), int(dy)), chars[index], fill=255, font=font)
                    pixels = np.asarray(canvas, dtype=np.float64) + rng.normal(0, 10, (28, 28))
                    images.append(np.clip(pixels, 0, 255).astype(np.uint8).T)
                    labels.append(first + index)
                zf.writestr(f"gzip/emnist-{split}-{part}-images-idx3-ubyte.gz", _idx(np.stack(images)))
                zf.writestr(f"gzip/emnist-{split}-{part}-labels-idx1-ubyte.gz", _idx(labels))


def build_artefacts(out: str | Path, samples: str | Path | None = None) -> Path:
    """Write the archives into `out` and `out/overrides.json` (URLs left as {base}/name: see
    `overrides`). Real text from `samples` (../shared/data) where it has the dataset."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = Path(samples) if samples else None
    _glove_zip(out / FILES["glove.6B"], samples)
    _imdb_tar(out / FILES["aclImdb"], samples)
    _ag_news_tar(out / FILES["ag_news_csv"], samples)
    _emnist_zip(out / FILES["emnist"])
    return out


def overrides(out: str | Path, base_url: str) -> Path:
    """Write `out/overrides.json` for FTCOURSE_DOWNLOAD_OVERRIDES: each artefact at `base_url`,
    with the sha256 and size of the file served."""
    out = Path(out)
    table = {}
    for name, filename in FILES.items():
        payload = (out / filename).read_bytes()
        table[name] = {"urls": [f"{base_url}/{filename}"], "sha256": hashlib.sha256(payload).hexdigest(),
                       "size": len(payload)}
    target = out / OVERRIDES_FILE
    target.write_text(json.dumps(table, indent=1))
    return target


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve_files(folder: str | Path, port: int = 0):
    """Serve `folder` over HTTP on loopback in a thread; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    with serving(server) as url:
        yield url
