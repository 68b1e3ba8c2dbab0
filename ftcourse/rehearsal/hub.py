"""A Hugging Face hub on loopback, serving repositories from local folders, with no upstream.

Layout of the folder it serves (one snapshot folder per revision; `/` in ids and revisions is
written as `--` and `%2F`, as in a URL)::

    ROOT/models/<org>--<name>/<revision>/<files>          e.g. models/openai-community--gpt2/main/config.json
    ROOT/datasets/<org>--<name>/<revision>/<files>        e.g. datasets/eriktks--conll2003/refs%2Fconvert%2Fparquet/...

Each revision gets a stable 40-hex commit id (from its files' hashes), so clients can also ask by
commit, as `snapshot_download` does. Endpoints: repo info (`/api/{models,datasets}/ID[/revision/REV]`),
`tree`, `paths-info` (what `HfFileSystem` lists with), `refs`, and `resolve` (GET and HEAD, with
`ETag`, `X-Repo-Commit`, `X-Linked-Etag`/`X-Linked-Size` for large files, and byte ranges). Unknown
repositories, revisions and files answer 404 with the hub's `X-Error-Code` (`RepoNotFound`,
`RevisionNotFound`, `EntryNotFound`), so clients raise their real errors.

    python -m ftcourse.rehearsal.hub ROOT --port 8765     # then HF_ENDPOINT=http://127.0.0.1:8765
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

REPO_TYPES = {"models": "model", "datasets": "dataset"}
LFS_SUFFIXES = (".safetensors", ".parquet", ".bin", ".arrow", ".zip", ".gz", ".model", ".pt")
_DATE = "2024-01-01T00:00:00.000Z"


def repo_folder(root: str | Path, repo_type: str, repo_id: str, revision: str = "main") -> Path:
    """Where the files of `repo_id` at `revision` lie under `root` (`repo_type`: model or dataset)."""
    kind = {"model": "models", "dataset": "datasets"}.get(repo_type)
    if kind is None:
        raise ValueError(f"repo_type must be 'model' or 'dataset', got {repo_type!r}")
    if not repo_id or repo_id.count("/") > 1 or ".." in repo_id:
        raise ValueError(f"repo_id must be 'name' or 'org/name', got {repo_id!r}")
    return Path(root) / kind / repo_id.replace("/", "--") / quote(revision, safe="")


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    oid: str  # git blob sha1
    sha256: str | None  # set for files stored as LFS on the hub

    def tree(self, expand: bool = False) -> dict:
        item = {"type": "file", "oid": self.oid, "size": self.size, "path": self.path}
        if self.sha256:
            item["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": 134}
        if expand:
            item["lastCommit"] = None
        return item


@dataclass(frozen=True)
class Revision:
    name: str
    commit: str
    folder: Path
    files: dict[str, Entry]

    def dirs(self) -> set[str]:
        out = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return out


def _hash_file(path: Path, lfs: bool) -> Entry:
    data = path.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return Entry("", len(data), blob, hashlib.sha256(data).hexdigest() if lfs else None)


class Hub:
    """The repositories under `root`, hashed once per revision on first use."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"hub folder {self.root} does not exist: "
                                    "build it first (ftcourse.rehearsal.standins)")
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], Revision] = {}

    def repo_dir(self, kind: str, repo_id: str) -> Path | None:
        folder = self.root / kind / repo_id.replace("/", "--")
        return folder if folder.is_dir() and "/" not in repo_id.replace("/", "", 1) else None

    def revisions(self, kind: str, repo_id: str) -> list[Revision]:
        folder = self.repo_dir(kind, repo_id)
        if folder is None:
            return []
        return [self._load(kind, repo_id, unquote(d.name)) for d in sorted(folder.iterdir()) if d.is_dir()]

    def revision(self, kind: str, repo_id: str, name: str) -> Revision | None:
        for rev in self.revisions(kind, repo_id):
            if name in (rev.name, rev.commit):
                return rev
        return None

    def _load(self, kind: str, repo_id: str, name: str) -> Revision:
        key = (kind, repo_id, name)
        with self._lock:
            if key not in self._cache:
                folder = self.root / kind / repo_id.replace("/", "--") / quote(name, safe="")
                files = {}
                for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                    rel = path.relative_to(folder).as_posix()
                    entry = _hash_file(path, rel.endswith(LFS_SUFFIXES) or path.stat().st_size > 10_000_000)
                    files[rel] = Entry(rel, entry.size, entry.oid, entry.sha256)
                digest = hashlib.sha1(f"{kind}/{repo_id}@{name}".encode())
                for rel, entry in files.items():
                    digest.update(f"{rel}:{entry.oid}".encode())
                self._cache[key] = Revision(name, digest.hexdigest(), folder, files)
            return self._cache[key]


class _Handler(BaseHTTPRequestHandler):
    server_version = "ftcourse-hub/1"
    protocol_version = "HTTP/1.1"
    hub: Hub  # set on the subclass made by make_server

    def log_message(self, format, *args):  # quiet unless asked
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    # -- plumbing
    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload, headers: dict | None = None):
        self._send(200, json.dumps(payload).encode(), headers)

    def _error(self, status: int, code: str | None, message: str):
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, json.dumps({"error": message}).encode(), headers)

    def _body_form(self) -> dict[str, list[str]]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if "json" in (self.headers.get("Content-Type") or ""):
            data = json.loads(raw or "{}")
            return {k: v if isinstance(v, list) else [v] for k, v in data.items()}
        return parse_qs(raw)

    def _split_repo(self, kind: str, segs: list[str]) -> tuple[str, list[str]] | None:
        """The repo id at the start of `segs` (one or two segments, whichever exists) and the rest."""
        for n in (2, 1):
            if len(segs) >= n:
                repo_id = "/".join(unquote(s) for s in segs[:n])
                if self.hub.repo_dir(kind, repo_id) is not None:
                    return repo_id, segs[n:]
        return None

    def _revision(self, kind: str, repo_id: str, raw: str) -> Revision | None:
        name = unquote(raw)
        rev = self.hub.revision(kind, repo_id, name)
        if rev is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {name}")
        return rev

    # -- routes
    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        self._route(post=True)

    def do_GET(self):
        self._route(post=False)

    def _route(self, post: bool):
        url = urlsplit(self.path)
        segs = [s for s in url.path.split("/") if s]
        query = parse_qs(url.query)
        try:
            if len(segs) >= 2 and segs[0] == "api" and segs[1] in REPO_TYPES:
                return self._api(segs[1], segs[2:], query, post)
            kind, rest = ("datasets", segs[1:]) if segs[:1] == ["datasets"] else ("models", segs)
            if "resolve" in rest:
                return self._resolve(kind, rest)
            self._error(404, None, f"no such endpoint on this loopback hub: {url.path}")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _api(self, kind: str, segs: list[str], query: dict, post: bool):
        found = self._split_repo(kind, segs)
        if found is None:
            return self._error(404, "RepoNotFound", f"Repository not found: {'/'.join(segs[:2])}")
        repo_id, rest = found
        action = rest[0] if rest else "revision"
        if action == "refs":
            revs = self.hub.revisions(kind, repo_id)
            groups = {"branches": [], "converts": [], "tags": []}
            for rev in revs:
                group = "converts" if rev.name.startswith("refs/convert/") else "branches"
                name = rev.name.removeprefix("refs/convert/")
                groups[group].append({"name": name, "ref": f"refs/heads/{name}" if group == "branches" else rev.name,
                                      "targetCommit": rev.commit})
            return self._json(groups)
        raw_rev = rest[1] if len(rest) > 1 else "main"
        rev = self._revision(kind, repo_id, raw_rev)
        if rev is None:
            return None
        if action == "revision":
            return self._json(self._info(kind, repo_id, rev))
        expand = query.get("expand", ["false"])[0].lower() == "true"
        if action == "tree":
            path = unquote("/".join(rest[2:])).strip("/")
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            return self._tree(rev, path, recursive, expand)
        if action == "paths-info" and post:
            form = self._body_form()
            wanted = [p.strip("/") for p in form.get("paths", [])]
            expand = expand or form.get("expand", ["false"])[0].lower() == "true"
            dirs = rev.dirs()
            out = [rev.files[p].tree(expand) if p in rev.files
                   else {"type": "directory", "oid": _dir_oid(rev, p), "path": p}
                   for p in wanted if p in rev.files or p in dirs]
            return self._json(out)
        return self._error(404, None, f"no such endpoint on this loopback hub: {self.path}")

    def _info(self, kind: str, repo_id: str, rev: Revision) -> dict:
        info = {"_id": rev.commit[:24], "id": repo_id, "sha": rev.commit, "private": False, "disabled": False,
                "gated": False, "downloads": 0, "likes": 0, "tags": [], "lastModified": _DATE, "createdAt": _DATE,
                "author": repo_id.split("/")[0] if "/" in repo_id else None,
                "siblings": [{"rfilename": p, "size": e.size} for p, e in rev.files.items()]}
        if kind == "models":
            info["modelId"] = repo_id
        else:
            info["description"] = ""
        return info

    def _tree(self, rev: Revision, path: str, recursive: bool, expand: bool):
        dirs = rev.dirs()
        if path and path not in dirs:
            return self._error(404, "EntryNotFound", f"{path} does not exist on {rev.name}")
        prefix = f"{path}/" if path else ""
        out = []
        for d in sorted(dirs):
            if d.startswith(prefix) and (recursive or "/" not in d[len(prefix):]):
                out.append({"type": "directory", "oid": _dir_oid(rev, d), "size": 0, "path": d})
        for p, entry in rev.files.items():
            if p.startswith(prefix) and (recursive or "/" not in p[len(prefix):]):
                out.append(entry.tree(expand))
        return self._json(out)

    def _resolve(self, kind: str, segs: list[str]):
        at = segs.index("resolve")
        repo_id = "/".join(unquote(s) for s in segs[:at])
        if not 1 <= at <= 2 or self.hub.repo_dir(kind, repo_id) is None:
            return self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
        if len(segs) < at + 3:
            return self._error(404, "EntryNotFound", "no file named")
        rev = self._revision(kind, repo_id, segs[at + 1])
        if rev is None:
            return None
        path = unquote("/".join(segs[at + 2:]))
        entry = rev.files.get(path)
        if entry is None:
            return self._error(404, "EntryNotFound", f"{path} does not exist on {rev.name}",)
        etag = f'"{entry.sha256 or entry.oid}"'
        headers = {"ETag": etag, "X-Repo-Commit": rev.commit, "Accept-Ranges": "bytes"}
        if entry.sha256:
            headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(entry.size)})
        data = (rev.folder / path).read_bytes()
        status, rng = 200, self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            first, _, last = rng[6:].split(",")[0].partition("-")
            if first == "":  # the last N bytes
                start, end = max(0, len(data) - int(last)), len(data) - 1
            else:
                start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
            if start >= len(data) and len(data) > 0:
                return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start:end + 1], 206
        self._send(status, data, headers, content_type="application/octet-stream")


def _dir_oid(rev: Revision, path: str) -> str:
    return hashlib.sha1(f"{rev.commit}:{path}".encode()).hexdigest()


def make_server(root: str | Path, host: str = "127.0.0.1", port: int = 0, verbose: bool = False) -> ThreadingHTTPServer:
    """An HTTP server (not yet started) for the hub under `root`; port 0 picks a free one."""
    handler = type("HubHandler", (_Handler,), {"hub": Hub(root)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.verbose = verbose
    return server


@contextlib.contextmanager
def serving(server):
    """Run an HTTP `server` bound to loopback in a thread; yields its base URL; stops it after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def serve_hub(root: str | Path, port: int = 0):
    """Serve the hub under `root` on loopback in a thread; a context manager that yields its
    endpoint (for HF_ENDPOINT)."""
    return serving(make_server(root, port=port))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a folder of hub repositories on loopback.")
    parser.add_argument("root", help="folder with models/ and datasets/ (see ftcourse.rehearsal.hub)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    server = make_server(args.root, port=args.port, verbose=args.verbose)
    print(f"hub on http://127.0.0.1:{server.server_address[1]} serving {args.root}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
