"""ftcourse.download without any network: file:// URLs and a swapped transport stand in for it."""

import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import zipfile
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest

from ftcourse import download
from ftcourse.download import (
    ARTEFACTS,
    Artefact,
    ChecksumError,
    DownloadError,
    UnsafeArchiveError,
    fetch,
    verify,
)


@pytest.fixture(autouse=True)
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("FTCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("FTCOURSE_OFFLINE", raising=False)
    return tmp_path / "cache" / "downloads"


@pytest.fixture
def calls(monkeypatch):
    """Every URL the transport is asked for, in order."""
    seen = []
    real = download._open_url

    def counting(url):
        seen.append(url)
        return real(url)

    monkeypatch.setattr(download, "_open_url", counting)
    return seen


def no_network(url):
    raise AssertionError(f"unexpected request for {url}")


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return path


def make_tar(path, members):
    with tarfile.open(path, "w:gz") as tf:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    return path


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def register(monkeypatch, source, *, name="demo", archive="zip", target=None, urls=None, **fields):
    """Put a test artefact served from `source` (a local file) into ARTEFACTS."""
    fields.setdefault("sha256", sha(source) if Path(source).exists() else None)
    fields.setdefault("size", Path(source).stat().st_size if Path(source).exists() else None)
    fields.setdefault("filename", Path(source).name)
    artefact = Artefact(
        name=name,
        urls=tuple(urls or [Path(source).as_uri()]),
        archive=archive,
        target=target or name,
        description="a test archive",
        license="test",
        **fields,
    )
    monkeypatch.setitem(ARTEFACTS, name, artefact)
    return artefact


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


# --- the real entries --------------------------------------------------------------------------


def test_real_artefacts_are_well_formed():
    assert {"glove.6B", "aclImdb", "ag_news_csv"} <= set(ARTEFACTS)
    for key, a in ARTEFACTS.items():
        assert key == a.name and a.urls and a.description and a.license
        assert all(url.startswith("https://") for url in a.urls), a.name
        assert a.sha256 is None or (len(a.sha256) == 64 and set(a.sha256) <= set("0123456789abcdef"))
        assert a.md5 is None or (len(a.md5) == 32 and set(a.md5) <= set("0123456789abcdef"))
        assert a.sha256 or a.md5, f"{a.name}: every real artefact has a published checksum"
        assert a.size is None or a.size > 0
        assert a.archive in ("zip", "tar.gz", None)
        if a.archive:  # unpacked into downloads/<name>/, so the target lies inside it
            assert Path(a.target).parts[0] == a.name and a.stored_name.endswith(a.archive)
        else:
            assert Path(a.target).name == a.stored_name


def test_real_artefact_offline_error_says_what_to_do(monkeypatch, cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(download, "_open_url", no_network)
    with pytest.raises(RuntimeError) as info:
        fetch("glove.6B")
    message = str(info.value)
    assert "HF_HUB_OFFLINE=1" in message
    assert "https://downloads.cs.stanford.edu/nlp/data/glove.6B.zip" in message
    assert str(cache / "glove.6B.zip") in message
    assert "FTCOURSE_DATA_DIR" in message and "FTCOURSE_PROFILE=ci" in message


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown artefact 'glove'; known: .*glove.6B"):
        fetch("glove")


# --- fetching and the cache --------------------------------------------------------------------


def test_zip_is_fetched_unpacked_then_reused_without_any_request(monkeypatch, tmp_path, cache, calls):
    source = make_zip(tmp_path / "demo.zip", {"demo.50d.txt": b"the 1 2\n", "sub/b.txt": b"b"})
    register(monkeypatch, source)
    path = fetch("demo", progress=False)
    assert path == cache / "demo" and (path / "demo.50d.txt").read_bytes() == b"the 1 2\n"
    assert calls == [source.as_uri()]
    assert listing(cache) == ["demo", "demo.zip", "demo/demo.50d.txt", "demo/sub", "demo/sub/b.txt"]

    monkeypatch.setattr(download, "_open_url", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the cache needs no network, offline or not
    assert fetch("demo") == path


def test_tar_gz_target_inside_the_archive(monkeypatch, tmp_path, cache):
    source = make_tar(tmp_path / "data_v1.tar.gz", {"data/train/pos/1_9.txt": b"good", "data/README": b"r"})
    register(monkeypatch, source, name="data", archive="tar.gz", target="data/data")
    path = fetch("data", progress=False)
    assert path == cache / "data" / "data"
    assert (path / "train" / "pos" / "1_9.txt").read_text() == "good"


def test_progress_bar_names_the_file(monkeypatch, tmp_path, capsys):
    register(monkeypatch, make_zip(tmp_path / "demo.zip", {"a": b"a" * 5000}))
    fetch("demo", progress=True)
    assert "demo.zip" in capsys.readouterr().err


def test_plain_file_checked_by_md5(monkeypatch, tmp_path, cache, capsys):
    source = tmp_path / "train.csv"
    source.write_bytes(b'"1","t","d"\n')
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    register(monkeypatch, source, name="csv", archive=None, target="agnews/train.csv", sha256=None, md5=md5)
    path = fetch("csv", progress=False)
    assert path == cache / "agnews" / "train.csv" and path.read_bytes() == source.read_bytes()
    assert f"md5 matches the published one; its sha256 is {sha(source)}" in capsys.readouterr().out


def test_without_a_checksum_it_says_it_could_not_verify(monkeypatch, tmp_path, capsys):
    source = make_zip(tmp_path / "demo.zip", {"a": b"a"})
    register(monkeypatch, source, sha256=None, size=None)
    fetch("demo", progress=False)
    out = capsys.readouterr().out
    assert "could not verify demo.zip" in out and sha(source) in out


@pytest.mark.parametrize("field", ["sha256", "md5", "size"])
def test_checksum_mismatch_raises_and_leaves_no_file(monkeypatch, tmp_path, cache, calls, field):
    source = make_zip(tmp_path / "demo.zip", {"a": b"a"})
    wrong = {"sha256": {"sha256": "0" * 64}, "md5": {"sha256": None, "md5": "0" * 32}, "size": {"size": 1}}
    register(monkeypatch, source, urls=[source.as_uri(), source.as_uri() + "?mirror"], **wrong[field])
    with pytest.raises(RuntimeError) as info:
        fetch("demo", progress=False)
    assert isinstance(info.value, DownloadError)
    message = str(info.value)
    assert "ChecksumError" in message and "expected" in message
    assert message.count(source.as_uri()) >= 2  # both URLs were tried and reported
    assert len(calls) == 2
    assert listing(cache) == []  # no archive, no temp file, no folder


def test_next_url_is_tried_when_one_fails(monkeypatch, tmp_path, cache, calls):
    source = make_zip(tmp_path / "demo.zip", {"a": b"a"})
    missing = (tmp_path / "gone.zip").as_uri()
    register(monkeypatch, source, urls=[missing, source.as_uri()])
    assert (fetch("demo", progress=False) / "a").read_bytes() == b"a"
    assert calls == [missing, source.as_uri()]


def test_transfer_cut_short_leaves_no_file(monkeypatch, tmp_path, cache):
    source = make_zip(tmp_path / "demo.zip", {"a": os.urandom(4096)})
    register(monkeypatch, source, sha256=None, size=None)

    @contextmanager
    def dropping(url):
        def chunks():
            yield source.read_bytes()[:100]
            raise ConnectionResetError("connection reset by peer")

        yield source.stat().st_size, chunks()

    monkeypatch.setattr(download, "_open_url", dropping)
    with pytest.raises(RuntimeError, match="ConnectionResetError: connection reset by peer"):
        fetch("demo", progress=False)
    assert listing(cache) == []


def test_a_bug_in_the_transfer_is_not_reported_as_a_failed_url(monkeypatch, tmp_path, cache):
    source = make_zip(tmp_path / "demo.zip", {"a": b"a"})
    register(monkeypatch, source, urls=["https://one.example/demo.zip", "https://two.example/demo.zip"])
    seen = []

    @contextmanager
    def buggy(url):
        seen.append(url)
        raise TypeError("unsupported operand type(s)")
        yield  # pragma: no cover

    monkeypatch.setattr(download, "_open_url", buggy)
    with pytest.raises(TypeError, match="unsupported operand"):
        fetch("demo", progress=False)
    assert seen == ["https://one.example/demo.zip"]  # the bug stopped it: no second URL, no "every URL failed"
    assert listing(cache) == []


def test_short_body_against_content_length_is_caught(monkeypatch, tmp_path, cache):
    source = make_zip(tmp_path / "demo.zip", {"a": b"a"})
    register(monkeypatch, source, sha256=None, size=None)

    @contextmanager
    def short(url):
        yield source.stat().st_size + 10, iter([source.read_bytes()])

    monkeypatch.setattr(download, "_open_url", short)
    with pytest.raises(RuntimeError, match="transfer cut short"):
        fetch("demo", progress=False)
    assert listing(cache) == []


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "FTCOURSE_OFFLINE"])
def test_offline_fails_at_once(monkeypatch, tmp_path, cache, variable):
    source = make_zip(tmp_path / "demo.zip", {"a": b"a"})
    register(monkeypatch, source)
    monkeypatch.setenv(variable, "1")
    monkeypatch.setattr(download, "_open_url", no_network)
    with pytest.raises(RuntimeError) as info:
        fetch("demo")
    message = str(info.value)
    assert f"{variable}=1" in message and source.as_uri() in message
    assert str(cache / "demo.zip") in message
    assert "FTCOURSE_DATA_DIR" in message and "FTCOURSE_PROFILE=ci" in message


def test_an_archive_put_there_by_hand_is_checked_then_used(monkeypatch, tmp_path, cache):
    source = make_zip(tmp_path / "demo.zip", {"a": b"a"})
    register(monkeypatch, source)
    monkeypatch.setattr(download, "_open_url", no_network)
    cache.mkdir(parents=True)
    (cache / "demo.zip").write_bytes(b"an html error page")
    with pytest.raises(ChecksumError, match="is not the expected file .* Delete it"):
        fetch("demo")
    (cache / "demo.zip").write_bytes(source.read_bytes())
    assert (fetch("demo") / "a").read_bytes() == b"a"


def test_interrupted_unpacking_is_never_trusted(monkeypatch, tmp_path, cache):
    source = make_zip(tmp_path / "demo.zip", {"a": b"a", "b": b"b"})
    register(monkeypatch, source)
    real_unzip = download._unzip

    def killed(archive, dest):
        (dest / "a").write_bytes(b"a")
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_unzip", killed)
    with pytest.raises(KeyboardInterrupt):
        fetch("demo", progress=False)
    assert listing(cache) == ["demo.zip"]  # verified archive kept, no half-unpacked folder

    monkeypatch.setattr(download, "_unzip", real_unzip)
    monkeypatch.setattr(download, "_open_url", no_network)
    assert listing(fetch("demo")) == ["a", "b"]


def test_unreadable_archive_and_missing_target(monkeypatch, tmp_path):
    garbage = tmp_path / "bad.zip"
    garbage.write_bytes(b"not a zip")
    register(monkeypatch, garbage, name="bad")
    with pytest.raises(DownloadError, match="not a readable zip archive"):
        fetch("bad", progress=False)
    source = make_zip(tmp_path / "demo.zip", {"other/a": b"a"})
    register(monkeypatch, source, target="demo/expected")
    with pytest.raises(DownloadError, match="holds no demo/expected"):
        fetch("demo", progress=False)


# --- safe unpacking ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil.txt", "ok/../../evil.txt", "/tmp/evil.txt", "..\\evil.txt", "C:/evil.txt"])
def test_zip_member_escaping_the_folder_is_refused(monkeypatch, tmp_path, cache, name):
    source = make_zip(tmp_path / "demo.zip", {"fine.txt": b"x", name: b"evil"})
    register(monkeypatch, source)
    with pytest.raises(UnsafeArchiveError, match="refusing to unpack"):
        fetch("demo", progress=False)
    assert listing(cache) == ["demo.zip"]
    assert not (tmp_path / "evil.txt").exists() and not (cache / "evil.txt").exists()


def tar_with(path, member, payload=b""):
    with tarfile.open(path, "w:gz") as tf:
        ok = tarfile.TarInfo("fine.txt")
        ok.size = 1
        tf.addfile(ok, io.BytesIO(b"x"))
        member.size = len(payload)
        tf.addfile(member, io.BytesIO(payload))
    return path


def _member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


@pytest.mark.parametrize(
    "member",
    [
        _member("../evil.txt"),
        _member("/etc/evil.txt"),
        _member("a/../../evil.txt"),
        _member("link", tarfile.SYMTYPE, "../../outside"),
        _member("a/link", tarfile.SYMTYPE, "/etc/passwd"),
        _member("hard", tarfile.LNKTYPE, "../outside"),
        _member("device", tarfile.CHRTYPE),
    ],
    ids=["dotdot", "absolute", "nested-dotdot", "symlink-out", "symlink-abs", "hardlink-out", "device"],
)
def test_tar_member_escaping_the_folder_is_refused(monkeypatch, tmp_path, cache, member):
    source = tar_with(tmp_path / "demo.tar.gz", member, b"" if member.linkname or member.ischr() else b"evil")
    register(monkeypatch, source, archive="tar.gz")
    with pytest.raises(UnsafeArchiveError, match="refusing to unpack"):
        fetch("demo", progress=False)
    assert listing(cache) == ["demo.tar.gz"]
    assert not (tmp_path / "evil.txt").exists()


def test_tar_link_inside_the_folder_is_fine(monkeypatch, tmp_path):
    source = tar_with(tmp_path / "demo.tar.gz", _member("demo/alias.txt", tarfile.SYMTYPE, "../fine.txt"))
    register(monkeypatch, source, archive="tar.gz")
    assert (fetch("demo", progress=False) / "demo" / "alias.txt").read_bytes() == b"x"


# --- verify ------------------------------------------------------------------------------------


def test_verify(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello")
    good = hashlib.sha256(b"hello").hexdigest()
    verify(path, good)
    verify(path, good.upper())
    with pytest.raises(ChecksumError, match=f"sha256 is {good}, expected {'0' * 64}"):
        verify(path, "0" * 64)
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        verify(path, "abc")


# --- the real HTTP path, on a loopback server --------------------------------------------------


@pytest.fixture
def server(tmp_path, monkeypatch):
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(_QuietHandler, directory=str(root))
    reason = "loopback networking is unusable here ({}); the file:// tests cover the rest"
    try:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    except OSError as exc:
        pytest.skip(reason.format(exc))
    try:
        socket.create_connection(httpd.server_address, timeout=2).close()
    except OSError as exc:
        httpd.server_close()
        pytest.skip(reason.format(exc))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_http_download_with_a_404_and_a_web_page_before_the_good_url(monkeypatch, server, cache):
    root, base = server
    make_zip(root / "demo.zip", {"a": b"a"})
    (root / "page.html").write_text("<html>please sign in</html>")
    register(monkeypatch, root / "demo.zip", urls=[f"{base}/missing.zip", f"{base}/page.html", f"{base}/demo.zip"])
    assert (fetch("demo", progress=False) / "a").read_bytes() == b"a"

    register(
        monkeypatch, root / "demo.zip", name="only_bad", filename="other.zip",
        urls=[f"{base}/missing.zip", f"{base}/page.html"],
    )
    with pytest.raises(DownloadError) as info:
        fetch("only_bad", progress=False)
    assert "404" in str(info.value) and "sent a web page" in str(info.value)


# --- fallback hosts ----------------------------------------------------------------------------


def register_with_fallback(monkeypatch, root, base, *, main_urls):
    """An AG-News-shaped artefact: a tarball on the first host, two plain CSV copies elsewhere."""
    train, test = b'"3","Wall St.","Stocks rose."\n', b'"2","Match","A goal."\n'
    make_tar(root / "news.tar.gz", {"news/train.csv": train, "news/test.csv": test})
    (root / "copies").mkdir()
    (root / "copies" / "train.csv").write_bytes(train)
    (root / "copies" / "test.csv").write_bytes(test)
    for split in ("train", "test"):
        path = root / "copies" / f"{split}.csv"
        register(monkeypatch, path, name=f"news.{split}", archive=None, target=f"news_copies/{split}.csv",
                 urls=[f"{base}/copies/{split}.csv"], sha256=None,
                 md5=hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest())
    return register(monkeypatch, root / "news.tar.gz", name="news", archive="tar.gz", target="news/news",
                    urls=main_urls, fallback=("news.train", "news.test")), train


def test_fallback_host_when_the_first_one_fails(monkeypatch, server, cache, calls, capsys):
    root, base = server
    _, train = register_with_fallback(monkeypatch, root, base, main_urls=[f"{base}/gone.tar.gz"])
    folder = fetch("news", progress=False)
    assert folder == cache / "news_copies"
    assert (folder / "train.csv").read_bytes() == train and (folder / "test.csv").is_file()
    assert calls == [f"{base}/gone.tar.gz", f"{base}/copies/train.csv", f"{base}/copies/test.csv"]
    assert "every URL failed; trying the copies news.train, news.test" in capsys.readouterr().out
    # The copies are the cache from now on: no request at all.
    monkeypatch.setattr(download, "_open_url", no_network)
    assert fetch("news", progress=False) == folder


def test_fallback_host_when_the_first_serves_a_wrong_hash(monkeypatch, server, cache, calls):
    root, base = server
    (root / "tampered.tar.gz").write_bytes(b"not the published file")
    register_with_fallback(monkeypatch, root, base, main_urls=[f"{base}/tampered.tar.gz"])
    folder = fetch("news", progress=False)
    assert folder == cache / "news_copies" and (folder / "test.csv").is_file()
    assert not (cache / "news.tar.gz").exists()  # the wrong file was never kept
    assert calls[0] == f"{base}/tampered.tar.gz" and len(calls) == 3


def test_first_host_is_used_when_it_works(monkeypatch, server, cache, calls):
    root, base = server
    register_with_fallback(monkeypatch, root, base, main_urls=[f"{base}/news.tar.gz"])
    assert fetch("news", progress=False) == cache / "news" / "news"
    assert calls == [f"{base}/news.tar.gz"]


def test_both_hosts_failing_reports_both(monkeypatch, server, cache):
    root, base = server
    register_with_fallback(monkeypatch, root, base, main_urls=[f"{base}/gone.tar.gz"])
    (root / "copies" / "test.csv").write_bytes(b"changed on the mirror\n")
    with pytest.raises(DownloadError) as info:
        fetch("news", progress=False)
    message = str(info.value)
    assert "gone.tar.gz" in message and "fallback copies failed too" in message and "md5" in message


def test_wrong_md5_fails_even_when_the_sha256_matches(monkeypatch, tmp_path, cache):
    source = make_zip(tmp_path / "demo.zip", {"a": b"a"})
    register(monkeypatch, source, md5="0" * 32)
    with pytest.raises(DownloadError, match="md5"):
        fetch("demo", progress=False)


def test_real_fallbacks_and_emnist_checksums():
    ag = ARTEFACTS["ag_news_csv"]
    assert ag.fallback == ("ag_news_csv.train", "ag_news_csv.test")
    assert {Path(ARTEFACTS[part].target).parent for part in ag.fallback} == {Path("ag_news_torchtext")}
    assert all("githubusercontent.com" in ARTEFACTS[part].urls[0] for part in ag.fallback)
    emnist = ARTEFACTS["emnist"]  # TFDS url_checksums/emnist.txt, and torchvision's md5
    assert emnist.sha256 == "fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e"
    assert emnist.size == 561_753_746 and emnist.md5 == "58c8d27c78d21e728a6bc7b3cc06412e"
