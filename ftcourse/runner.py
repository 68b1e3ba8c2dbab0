"""Run a chapter headless, on either profile, and report what it recorded.

`python -m ftcourse run notebooks/02_transfer_learning.ipynb --profile full --data-dir D`
executes every cell in a fresh `python3` kernel (working directory: the notebook's folder),
prints which cell it is on, saves the executed notebook, and checks that the chapter wrote its
results JSON. Taught in the "How to use this book" page.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ftcourse._env import PROFILES, project_root
from ftcourse.results import atomic_write_text, results_dir

# On `ci` every chapter finishes in about a minute, so a cell stuck for 5 minutes is a hang;
# a `full` run trains real models for as long as it needs.
DEFAULT_TIMEOUT = {"ci": 300, "full": None}


class RunError(RuntimeError):
    """A notebook run that could not start, failed in a cell, or recorded no results."""


@dataclass
class RunResult:
    """What a successful run produced: the executed notebook and the results JSON it wrote."""

    notebook: Path
    executed: Path
    results: Path
    seconds: float


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _locations(notebook: Path, profile_name: str) -> tuple[Path, Path]:
    # The kernel runs in the notebook's folder, so the project root and the results folder are
    # the ones `ftcourse.results.record` finds from there, not from the caller's directory.
    with _working_directory(notebook.parent):
        return project_root(), results_dir(profile_name)


def default_output(notebook: Path, profile_name: str) -> Path:
    """Where an executed notebook goes unless `--output` says otherwise: `_build/runs/<profile>/`."""
    root, _ = _locations(Path(notebook).resolve(), profile_name)
    return root / "_build" / "runs" / profile_name / Path(notebook).name


def kernel_environment(profile_name: str, data_dir: Path | None) -> dict[str, str]:
    """The environment the kernel starts with: the caller's, plus the profile and data folder."""
    if profile_name not in PROFILES:
        raise RunError(f"unknown profile {profile_name!r}; use one of {PROFILES}")
    env = dict(os.environ)
    env["FTCOURSE_PROFILE"] = profile_name
    if data_dir is not None:
        env["FTCOURSE_DATA_DIR"] = str(data_dir)
    return env


RUN_EXTRA = "run"  # the pip extra with Jupyter's client and a kernel (kept out of the base install)


def require_jupyter() -> None:
    """Raise RunError naming the extra to install unless nbformat, nbclient and ipykernel import.

    They are not base dependencies: in Colab the kernel is pinned, and replacing it breaks the session.
    """
    import importlib.util

    missing = [m for m in ("nbformat", "nbclient", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        raise RunError(
            f"running a chapter headless needs {', '.join(missing)}, which are not installed: "
            f'pip install "ftcourse[{RUN_EXTRA}]" (or, in a clone, pip install -e ".[{RUN_EXTRA}]")'
        )


def _check_inputs(notebook: Path, data_dir: Path | None) -> tuple[Path, Path | None]:
    notebook = Path(notebook).expanduser()
    if notebook.suffix != ".ipynb":
        twin = notebook.with_suffix(".ipynb")
        hint = f" (did you mean {twin}?)" if twin.is_file() else ""
        raise RunError(f"{notebook} is not a .ipynb notebook{hint}")
    if not notebook.is_file():
        raise RunError(
            f"no notebook at {notebook}; give the path of a chapter, "
            "e.g. notebooks/01_positional_encoding.ipynb"
        )
    if data_dir is not None:
        data_dir = Path(data_dir).expanduser()
        if not data_dir.is_dir():
            raise RunError(
                f"--data-dir {data_dir} is not a folder; point it at a folder holding the original "
                "layouts (aclImdb/, ag_news_csv/, glove/), or leave it out to download"
            )
        data_dir = data_dir.resolve()
    return notebook.resolve(), data_dir


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:70]
    return ""


def _failure_report(cell_index: int, cell, error: Exception) -> str:
    traceback = getattr(error, "traceback", None) or str(error)
    return (
        f"cell {cell_index} failed.\n"
        f"---- source of cell {cell_index} ----\n{cell.source}\n"
        f"---- error ----\n{traceback}"
    )


def parse_overrides(pairs: list[str]) -> dict[str, object]:
    """`["EPOCHS=10", "MAX_LEN=256"]` -> {"EPOCHS": 10, "MAX_LEN": 256} (values are Python literals)."""
    import ast

    overrides: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise RunError(f"--set expects NAME=VALUE (e.g. EPOCHS=10), got {pair!r}")
        try:
            overrides[name] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise RunError(
                f"--set {pair!r}: the value must be a Python literal (10, 0.5, None, 'text')"
            ) from None
    return overrides


def inject_overrides(nb, overrides: dict[str, object]) -> None:
    """Add a cell after the one tagged `parameters` that sets `overrides` (papermill's convention).

    Every name must already be set in the parameters cell, so a typo cannot pass unnoticed.
    """
    if not overrides:
        return
    require_jupyter()
    import nbformat

    index = next(
        (i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])),
        None,
    )
    if index is None:
        raise RunError("this notebook has no cell tagged 'parameters'; --set cannot apply")
    source = nb.cells[index].source
    unknown = [n for n in overrides if not re.search(rf"^{n}\b|^[^#\n]*\b{n}\s*[,=]", source, re.M)]
    if unknown:
        raise RunError(f"--set names {unknown} that the parameters cell does not set:\n{source}")
    lines = [f"{name} = {value!r}" for name, value in overrides.items()]
    cell = nbformat.v4.new_code_cell("# Parameters set by the runner (--set)\n" + "\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)


def run_notebook(
    notebook: str | Path,
    profile_name: str,
    data_dir: str | Path | None = None,
    timeout: float | None = None,
    output: str | Path | None = None,
    log: Callable[[str], None] = print,
    overrides: dict[str, object] | None = None,
) -> RunResult:
    """Execute `notebook` on `profile_name`; raise RunError naming the failing cell or the fix.

    `overrides` replace values of the notebook's parameters cell (e.g. fewer epochs on a CPU).
    """
    require_jupyter()
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path, data_path = _check_inputs(Path(notebook), Path(data_dir) if data_dir else None)
    env = kernel_environment(profile_name, data_path)
    _, expected_results = _locations(path, profile_name)
    expected_results = expected_results / f"{path.stem}.json"
    executed = Path(output).expanduser().resolve() if output else default_output(path, profile_name)

    nb = nbformat.read(path, as_version=4)
    inject_overrides(nb, overrides or {})
    code_cells = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    started: dict[int, float] = {}

    def on_cell_execute(cell, cell_index: int) -> None:
        started[cell_index] = time.perf_counter()
        number = code_cells.index(cell_index) + 1
        log(f"[{number}/{len(code_cells)}] cell {cell_index}: {_first_line(cell.source)}")

    def on_cell_executed(cell, cell_index: int, execute_reply) -> None:
        seconds = time.perf_counter() - started.get(cell_index, time.perf_counter())
        if seconds >= 1:
            log(f"      done in {seconds:.1f} s")

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),  # chapter 13: ftcourse-adapters
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_execute=on_cell_execute,
        on_cell_executed=on_cell_executed,
        # A progress bar redraws itself with "\r" hundreds of times; keep each cell's streams as
        # one stdout and one stderr output holding what a terminal would finally show.
        coalesce_streams=True,
    )
    log(
        f"running {path} on the {profile_name!r} profile"
        + (f" with data from {data_path}" if data_path else "")
    )
    start = time.time()
    failure: str | None = None
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        # The failing cell is the last one that started.
        index = max(started) if started else 0
        failure = _failure_report(index, nb.cells[index], error)
    except AssertionError as error:
        # nbclient's clean-up after a dead kernel can fail on its own; report the death.
        cause = error.__context__ or error
        index = max(started) if started else 0
        failure = _failure_report(index, nb.cells[index], cause) + (
            "\nthe kernel died (out of memory, or killed from outside?)"
        )
    finally:
        # Saved even after a failure: the outputs up to the failing cell are what explains it.
        atomic_write_text(executed, nbformat.writes(nb))
    seconds = time.time() - start
    if failure is not None:
        raise RunError(f"{path.name}: {failure}\nexecuted notebook (up to the failure): {executed}")

    if not expected_results.is_file() or expected_results.stat().st_mtime < start - 1:
        raise RunError(
            f"{path.name} ran without error but wrote no results at {expected_results}; "
            "a chapter must end with ftcourse.results.record(...)"
        )
    log(f"executed notebook: {executed}")
    log(f"results: {expected_results}  ({seconds:.1f} s)")
    return RunResult(notebook=path, executed=executed, results=expected_results, seconds=seconds)
