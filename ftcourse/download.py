"""The one place the `full` profile downloads from.

Each artefact has its URLs (tried in turn), its size and a published checksum. `fetch(name)`
downloads into `ftcourse.cache_dir() / "downloads"` with a progress bar, checks size and hash,
unpacks archives safely, and returns the path; a second call finds the cache and makes no
request. Every step writes to a temp name and renames, so an interrupted run never leaves a
file or folder that a later run would trust. On failure the error says what to do instead.
Taught in the "How to use this book" page.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse
from urllib.request import url2pathname

from ftcourse._env import cache_dir

_CHUNK = 1 << 20
_TRUE = {"1", "true", "yes", "on"}


class DownloadError(RuntimeError):
    """An artefact could not be fetched; the message says what to do instead."""


class ChecksumError(DownloadError):
    """A file's size or hash is not the published one."""


class UnsafeArchiveError(DownloadError):
    """An archive member would land outside the folder it is unpacked into."""


@dataclass(frozen=True)
class Artefact:
    """A file the `full` profile needs: where to get it, how to check it, what `fetch` returns."""

    name: str
    urls: tuple[str, ...]
    sha256: str | None  # None where no sha256 is published; fetch() then prints the one it computed
    size: int | None  # bytes, where published
    archive: str | None  # "zip", "tar.gz" or None (a plain file)
    target: str  # what fetch() returns, relative to the downloads folder
    description: str
    license: str
    filename: str = ""  # the downloaded file's name in the downloads folder
    md5: str | None = None  # where published; checked besides the sha256 when both are known
    # Artefacts that together give the same files when every URL of this one fails (another host's
    # copies); their targets lie in one folder, which fetch() then returns instead of `target`.
    fallback: tuple[str, ...] = ()

    @property
    def stored_name(self) -> str:
        """The downloaded file's name in the downloads folder."""
        return self.filename or posixpath.basename(urlparse(self.urls[0]).path)


_AG_NEWS_DRIVE_ID = "0Bz8a_Dbh9QhbUDNpeUdjb0wxRms"
_AG_NEWS_GITHUB = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv"

ARTEFACTS: dict[str, Artefact] = {
    a.name: a
    for a in (
        Artefact(
            name="glove.6B",
            urls=(
                "https://downloads.cs.stanford.edu/nlp/data/glove.6B.zip",
                "https://nlp.stanford.edu/data/glove.6B.zip",
                "https://huggingface.co/stanfordnlp/glove/resolve/main/glove.6B.zip",
            ),
            # Stanford publishes no checksum. The size is the Content-Length its server sends;
            # the md5 is the one pinned by several independent public download scripts.
            sha256=None,
            md5="056ea991adb4740ac6bf1b6d9b50408b",
            size=862_182_613,
            archive="zip",
            filename="glove.6B.zip",
            target="glove.6B",
            description="GloVe 6B word vectors (Wikipedia 2014 + Gigaword 5): glove.6B.{50,100,200,300}d.txt",
            license="Public Domain Dedication and License (PDDL) 1.0",
        ),
        Artefact(
            name="aclImdb",
            urls=("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
            # sha256 and size: tensorflow_datasets/url_checksums/imdb_reviews.txt
            # (torchtext's datasets/imdb.py has md5 7c2ac02c03563afcf9b574c7e56c153a).
            sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
            size=84_125_825,
            archive="tar.gz",
            filename="aclImdb_v1.tar.gz",
            target="aclImdb/aclImdb",
            description="IMDB Large Movie Review Dataset v1.0 (Maas et al. 2011): the aclImdb/ folder",
            license="Stanford research dataset; cite Maas et al. (2011)",
        ),
        Artefact(
            name="ag_news_csv",
            urls=(
                f"https://drive.google.com/uc?export=download&id={_AG_NEWS_DRIVE_ID}",
                f"https://drive.usercontent.google.com/download?id={_AG_NEWS_DRIVE_ID}&export=download&confirm=t",
            ),
            # sha256 and size: tensorflow_datasets/url_checksums/ag_news_subset.txt
            sha256="4e2fc37d369e6e317a8b62d0d2f11d379f8c3dde60c07c35a46b069a246498ad",
            size=11_784_327,
            archive="tar.gz",
            filename="ag_news_csv.tar.gz",
            target="ag_news_csv/ag_news_csv",
            # Drive refuses automated downloads now and then: torchtext's GitHub copies instead.
            fallback=("ag_news_csv.train", "ag_news_csv.test"),
            description="AG News (Zhang et al. 2015): ag_news_csv/ with train.csv, test.csv, classes.txt",
            license="non-commercial research and teaching (AG's corpus of news articles)",
        ),
        # The per-split copies torchtext 0.18 downloads (no classes.txt: labels 1-4 are
        # World, Sports, Business, Sci/Tech); md5 from torchtext's datasets/ag_news.py.
        Artefact(
            name="ag_news_csv.train",
            urls=(f"{_AG_NEWS_GITHUB}/train.csv",),
            sha256=None,
            md5="b1a00f826fdfbd249f79597b59e1dc12",
            size=None,
            archive=None,
            filename="train.csv",
            target="ag_news_torchtext/train.csv",
            description="AG News training split, 120,000 rows (torchtext's copy)",
            license="non-commercial research and teaching (AG's corpus of news articles)",
        ),
        Artefact(
            name="ag_news_csv.test",
            urls=(f"{_AG_NEWS_GITHUB}/test.csv",),
            sha256=None,
            md5="d52ea96a97a2d943681189a97654912d",
            size=None,
            archive=None,
            filename="test.csv",
            target="ag_news_torchtext/test.csv",
            description="AG News test split, 7,600 rows (torchtext's copy)",
            license="non-commercial research and teaching (AG's corpus of news articles)",
        ),
        Artefact(
            name="emnist",
            urls=("https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",),
            # NIST publishes none. sha256 and size: tensorflow_datasets/url_checksums/emnist.txt,
            # confirmed for this URL in TFDS issue 5356 / pull request 5401; the md5 is the one
            # torchvision's EMNIST dataset class pins (torchvision/datasets/mnist.py).
            sha256="fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e",
            md5="58c8d27c78d21e728a6bc7b3cc06412e",
            size=561_753_746,
            archive="zip",
            filename="emnist-gzip.zip",
            target="emnist/gzip",
            description="EMNIST (Cohen et al. 2017) in IDX format: gzip/emnist-{split}-{train,test}-*-ubyte.gz",
            license="NIST Special Database 19 derivative; cite Cohen et al. (2017)",
        ),
    )
}


def downloads_dir() -> Path:
    """The folder `fetch` keeps its files in: `ftcourse.cache_dir() / "downloads"` (How to use this book)."""
    path = cache_dir() / "downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch(name: str, *, progress: bool = True) -> Path:
    """Download, check and unpack the artefact `name` once; return the cached path every time.

    When every URL fails (or serves a file with the wrong size or hash) and the artefact names
    fallback copies (AG News: torchtext's CSVs on GitHub), those are fetched and checked instead,
    and their folder is returned: the same file names and formats. Taught in "How to use this book";
    the data loaders of the `full` profile call it.
    """
    artefact = _lookup(name)
    target = downloads_dir() / artefact.target
    if target.exists():
        return target
    if not artefact.fallback:
        return _fetch(artefact, progress)
    parts = [_lookup(part) for part in artefact.fallback]
    folder = _fallback_folder(artefact, parts)
    if all((downloads_dir() / part.target).exists() for part in parts):
        return folder  # fetched from the fallback host before
    try:
        return _fetch(artefact, progress)
    except DownloadError as first:
        if _offline_reason():
            raise
        print(f"{artefact.name}: every URL failed; trying the copies {', '.join(artefact.fallback)}")
        try:
            for part in parts:
                _fetch(part, progress)
        except DownloadError as second:
            raise DownloadError(f"{first}\n\nThe fallback copies failed too:\n{second}") from None
    return folder


def _fallback_folder(artefact: Artefact, parts: list[Artefact]) -> Path:
    folders = {PurePosixPath(part.target).parent for part in parts}
    if len(folders) != 1:
        raise ValueError(f"{artefact.name}: the fallback artefacts must share one folder, not {folders}")
    return downloads_dir() / folders.pop()


def _fetch(artefact: Artefact, progress: bool) -> Path:
    """Download, check and unpack one artefact (no fallback); return its target."""
    root = downloads_dir()
    target = root / artefact.target
    if target.exists():
        return target
    if artefact.archive is None:
        _download(artefact, target, progress)
        return target
    archive = root / artefact.stored_name
    if archive.is_file():
        # A copy put there by hand, or a run stopped while unpacking: check it before use.
        _check_file(artefact, archive)
    else:
        _download(artefact, archive, progress)
    _extract(artefact, archive, root / artefact.name)
    if not target.exists():
        raise DownloadError(
            f"{archive.name} was unpacked into {root / artefact.name}, but it holds no "
            f"{artefact.target}. Delete that folder and {archive}, then run again.\n"
            + _what_to_do(artefact)
        )
    return target


def verify(path: Path, sha256: str) -> None:
    """Raise `ChecksumError` unless the file at `path` has this sha256 (64 hex digits)."""
    expected = _hex(sha256, 64, "sha256")
    actual = _digests(Path(path), md5=False)[0]
    if actual != expected:
        raise ChecksumError(f"{path}: sha256 is {actual}, expected {expected}")


# --- downloading -------------------------------------------------------------------------------


def _lookup(name: str) -> Artefact:
    if name not in ARTEFACTS:
        raise ValueError(f"unknown artefact {name!r}; known: {', '.join(sorted(ARTEFACTS))}")
    return _overridden(ARTEFACTS[name])


# A JSON file {name: {"urls": [...], "sha256": ..., "size": ..., "md5": ...}} that replaces those
# fields of ARTEFACTS[name]: the `rehearsal` test phase points fetch() at loopback hosts with it.
OVERRIDES_ENV = "FTCOURSE_DOWNLOAD_OVERRIDES"


def _overridden(artefact: Artefact) -> Artefact:
    import dataclasses
    import json

    value = os.environ.get(OVERRIDES_ENV, "").strip()
    if not value:
        return artefact
    try:
        entry = json.loads(Path(value).read_text(encoding="utf-8")).get(artefact.name)
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"{OVERRIDES_ENV}={value}: not a readable JSON object of artefacts ({exc}); "
                         f"fix the file or unset {OVERRIDES_ENV}") from None
    if entry is None:
        return artefact
    unknown = set(entry) - {"urls", "sha256", "size", "md5"}
    if unknown or not entry.get("urls"):
        raise ValueError(f"{OVERRIDES_ENV}: the entry for {artefact.name!r} needs 'urls' and may set only "
                         f"sha256, size and md5; it has {sorted(entry)}")
    return dataclasses.replace(artefact, urls=tuple(entry["urls"]), sha256=entry.get("sha256"),
                               size=entry.get("size"), md5=entry.get("md5"))


def _offline_reason() -> str | None:
    for variable in ("FTCOURSE_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(variable, "").strip().lower() in _TRUE:
            return f"downloads are switched off ({variable}={os.environ[variable]})"
    return None


def _download(artefact: Artefact, dest: Path, progress: bool) -> None:
    reason = _offline_reason()
    if reason:
        raise DownloadError(f"Cannot fetch {artefact.name}: {reason}.\n" + _what_to_do(artefact))
    problems = []
    for url in artefact.urls:
        try:
            _download_one(artefact, url, dest, progress)
            return
        except _url_failures() as exc:  # each failure is reported below; try the next URL
            problems.append(f"  {url}\n    {type(exc).__name__}: {exc}")
    raise DownloadError(
        f"Could not download {artefact.name}; every URL failed:\n"
        + "\n".join(problems)
        + "\n"
        + _what_to_do(artefact)
    )


def _url_failures() -> tuple[type[BaseException], ...]:
    """What fetching one URL can fail with, so the next URL is tried: the network and files
    (OSError, which requests' errors are), a cut stream (urllib3), a bad checksum or page
    (DownloadError), an unsupported scheme (ValueError). Anything else is a bug and propagates."""
    from urllib3.exceptions import HTTPError as StreamError

    return (OSError, StreamError, DownloadError, ValueError)


def _download_one(artefact: Artefact, url: str, dest: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        sha, md5, written = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        with os.fdopen(fd, "wb") as out, _open_url(url) as (length, chunks):
            total = artefact.size or length
            bar_options = {"unit": "B", "unit_scale": True, "unit_divisor": 1024}
            with tqdm(total=total, desc=dest.name, disable=not progress, **bar_options) as bar:
                for chunk in chunks:
                    out.write(chunk)
                    sha.update(chunk)
                    md5.update(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if length is not None and written != length:
            raise ChecksumError(f"transfer cut short: got {written:,} of {length:,} bytes")
        _compare(artefact, written, sha.hexdigest(), md5.hexdigest(), dest.name)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _check_file(artefact: Artefact, path: Path) -> None:
    sha, md5 = _digests(path, md5=True)
    try:
        _compare(artefact, path.stat().st_size, sha, md5, path.name)
    except ChecksumError as exc:
        raise ChecksumError(
            f"{path} is not the expected file ({exc}). Delete it and run again.\n" + _what_to_do(artefact)
        ) from None


def _compare(artefact: Artefact, size: int, sha: str, md5: str, label: str) -> None:
    if artefact.size is not None and size != artefact.size:
        raise ChecksumError(f"{label} has {size:,} bytes, expected {artefact.size:,}")
    if artefact.sha256 is not None:
        if sha != artefact.sha256:
            raise ChecksumError(f"{label} has sha256 {sha}, expected {artefact.sha256}")
        if artefact.md5 is not None and md5 != artefact.md5:
            raise ChecksumError(f"{label} has md5 {md5}, expected {artefact.md5}")
    elif artefact.md5 is not None:
        if md5 != artefact.md5:
            raise ChecksumError(f"{label} has md5 {md5}, expected {artefact.md5}")
        print(f"{artefact.name}: md5 matches the published one; its sha256 is {sha}")
    else:
        print(f"{artefact.name}: no published checksum, could not verify {label}; its sha256 is {sha}")


def _digests(path: Path, md5: bool) -> tuple[str, str]:
    sha, other = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            sha.update(chunk)
            if md5:
                other.update(chunk)
    return sha.hexdigest(), other.hexdigest()


def _hex(value: str, length: int, what: str) -> str:
    value = value.strip().lower()
    if len(value) != length or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"{what} must be {length} hexadecimal digits, got {value!r}")
    return value


def _what_to_do(artefact: Artefact) -> str:
    root = downloads_dir()
    where = root / (artefact.stored_name if artefact.archive else artefact.target)
    sources = "\n".join(f"       {url}" for url in artefact.urls)
    unpack = "unpack it" if artefact.archive else "put it"
    then = "checks and unpacks it" if artefact.archive else "uses it"
    return (
        "What to do, any one of:\n"
        f"  1. download the file by hand from\n{sources}\n"
        f"     and save it as {where} (the next run {then});\n"
        f"  2. {unpack} under a folder of your own and set FTCOURSE_DATA_DIR to that folder;\n"
        "  3. set FTCOURSE_PROFILE=ci to use the offline generated data instead."
    )


# The seam between fetch() and the network: a context manager giving (length or None, chunks).
# Tests swap it, or use file:// URLs, so they never touch the network.
@contextlib.contextmanager
def _open_url(url: str) -> Iterator[tuple[int | None, Iterable[bytes]]]:
    scheme = urlparse(url).scheme
    if scheme == "file":
        path = Path(url2pathname(urlparse(url).path))
        with open(path, "rb") as handle:
            yield path.stat().st_size, iter(lambda: handle.read(_CHUNK), b"")
        return
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {scheme!r} in {url}")
    import requests

    # identity: a server that gzips the transfer would otherwise change the bytes we hash.
    headers = {"Accept-Encoding": "identity", "User-Agent": "ftcourse"}
    with requests.get(url, stream=True, timeout=(15, 60), headers=headers) as response:
        response.raise_for_status()
        if response.headers.get("Content-Type", "").startswith("text/html"):
            raise DownloadError("the server sent a web page, not the file (a sign-in or confirmation page?)")
        length = response.headers.get("Content-Length", "")
        yield (int(length) if length.isdigit() else None), response.raw.stream(_CHUNK, decode_content=False)


# --- unpacking ---------------------------------------------------------------------------------


def _extract(artefact: Artefact, archive: Path, dest: Path) -> None:
    if dest.exists():
        return
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial"))
    try:
        try:
            if artefact.archive == "zip":
                _unzip(archive, tmp)
            elif artefact.archive == "tar.gz":
                _untar(archive, tmp)
            else:
                raise ValueError(f"{artefact.name}: unknown archive kind {artefact.archive!r}")
        except (zipfile.BadZipFile, tarfile.ReadError, EOFError) as exc:
            raise DownloadError(
                f"{archive} is not a readable {artefact.archive} archive ({exc}). Delete it and run again.\n"
                + _what_to_do(artefact)
            ) from None
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():  # else another process finished the same unpacking first
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _member_path(root: Path, name: str) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise UnsafeArchiveError(f"refusing to unpack {name!r}: it would land outside {root}")
    return root / pure


def _unzip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            _member_path(dest, name)
        zf.extractall(dest)


def _untar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:gz") as tf:
        for member in tf.getmembers():
            _member_path(dest, member.name)
            if member.issym() or member.islnk():
                base = posixpath.dirname(member.name) if member.issym() else ""
                link = posixpath.normpath(posixpath.join(base, member.linkname))
                if posixpath.isabs(member.linkname) or link == ".." or link.startswith("../"):
                    raise UnsafeArchiveError(
                        f"refusing to unpack {member.name!r}: its link to {member.linkname!r} "
                        f"points outside {dest}"
                    )
            elif not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(f"refusing to unpack {member.name!r}: not a file or folder")
        if hasattr(tarfile, "data_filter"):
            try:
                tf.extractall(dest, filter="data")
            except tarfile.FilterError as exc:
                raise UnsafeArchiveError(f"refusing to unpack {archive.name}: {exc}") from None
        else:  # Python without extraction filters: the checks above are the guard
            tf.extractall(dest)
