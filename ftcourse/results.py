"""Recorded results: every number the book shows comes from one of these JSON files.

`record()` writes `results/<profile>/<notebook>.json` with the metrics and their provenance
(profile, data source, device, seconds, library versions). It takes the chapter's training runs
(`ftcourse.experiment.Run`) and writes their metrics under the names the results page reads
(`run_metrics`). Taught in every chapter's last cell.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from ftcourse._env import data_dir, profile, project_root

_LIBRARIES = ("ftcourse", "torch", "numpy", "transformers", "peft", "datasets", "accelerate")


def atomic_write_bytes(path: Path, payload: bytes) -> Path:
    """Write `payload` to `path` through a temp file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def device_description() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {os.cpu_count()} cores ({platform.machine()})"


def results_dir(profile_name: str | None = None) -> Path:
    """`results/<profile>/` under the project root (or `FTCOURSE_RESULTS_DIR`)."""
    base = os.environ.get("FTCOURSE_RESULTS_DIR")
    root = Path(base) if base else project_root() / "results"
    return root / (profile_name or profile())


class Timer:
    """Wall-clock seconds since creation; notebooks start one in their parameters cell."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def _clean(value):
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to record a non-finite number ({value})")
    return value


def run_metrics(runs: Sequence = (), controls: Sequence = (), prefix: str = "") -> dict[str, float]:
    """The metric names of training runs (`ftcourse.experiment.Run`): `<prefix><metric>/<name>`
    for each metric of every run and control (e.g. `accuracy/lora`), and
    `<prefix>trainable_params/<name>` for the `runs` only. The results page charts a method for
    every accuracy recorded with its trainable parameters, so the strategies compared, the
    from-scratch baseline among them, belong in `runs`; controls (an untrained model, a
    pre-training run, a probe on a random encoder) are recorded without them and not charted."""
    metrics: dict[str, float] = {}
    for group, with_params in ((runs, True), (controls, False)):
        for run in group:
            for name, value in run.metrics.items():
                metrics[f"{prefix}{name}/{run.name}"] = value
            if with_params:
                if run.trainable is None:
                    raise ValueError(f"run {run.name!r} does not say how many parameters it trained; "
                                     "set Run.trainable or pass it among the controls")
                metrics[f"{prefix}trainable_params/{run.name}"] = run.trainable
    return metrics


def _relative_to_data_dir(text: str) -> str:
    """`text` with the local data folder's path replaced by "the data folder": a recorded result
    names its data relative to `FTCOURSE_DATA_DIR`, not the machine that made it."""
    folder = data_dir()
    if folder is None:
        return text
    return text.replace(str(folder) + "/", "").replace(str(folder), "the data folder")


def record(
    notebook: str,
    metrics: Mapping[str, float | int] | None = None,
    *,
    runs: Sequence = (),
    controls: Sequence = (),
    data_source: str,
    seconds: float | None = None,
    extra: Mapping | None = None,
) -> Path:
    """Write the notebook's metrics with their provenance; returns the JSON path.

    `runs` (the strategies compared) and `controls` (other runs) are `ftcourse.experiment.Run`
    records: their metrics are named by `run_metrics`, and their figures (without histories) are
    kept under `extra["runs"]`. `metrics` holds everything else the chapter measured.
    """
    from_runs = run_metrics(runs, controls)
    clash = sorted(set(from_runs) & set(metrics or {}))
    if clash:
        raise ValueError(f"{clash} come from the runs and from metrics; give each number once")
    metrics = {**from_runs, **(metrics or {})}
    if not metrics:
        raise ValueError("record() got no metrics; a chapter must record what it measured")
    if runs or controls:
        extra = {"runs": {r.name: r.summary() for r in (*runs, *controls)}, **(extra or {})}
    payload = {
        "notebook": notebook,
        "metrics": _clean(dict(metrics)),
        "provenance": {
            "profile": profile(),
            "data_source": _relative_to_data_dir(data_source),
            "data_dir": data_dir().name if data_dir() else None,
            "device": device_description(),
            "seconds": round(seconds, 2) if seconds is not None else None,
            "versions": library_versions(),
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    if extra:
        payload["extra"] = _clean(dict(extra))
    path = results_dir() / f"{Path(notebook).stem}.json"
    return atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def load(notebook: str, profile_name: str | None = None) -> dict:
    """Read a recorded result (for the book's results page and for comparisons)."""
    path = results_dir(profile_name) / f"{Path(notebook).stem}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no recorded result at {path}; run the notebook first "
            f"(python -m ftcourse run notebooks/{Path(notebook).stem}.ipynb)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


SEEDS = "ci-seeds"  # results/ci-seeds/<chapter>.seed<k>.json: a chapter run on ci once per seed


def seed_runs(chapter: str, folder: Path | None = None) -> dict[int, dict]:
    """The metrics of `chapter`'s recorded runs on ci, one per seed (`bench/ci_seeds.py` writes
    them; the committed ones are in `results/ci-seeds/`), keyed by seed; empty when none is there."""
    folder = folder if folder is not None else results_dir(SEEDS)
    runs = {}
    for path in sorted(folder.glob(f"{chapter}.seed*.json")):
        seed = path.stem.rsplit(".seed", 1)[1]
        if seed.isdigit():
            runs[int(seed)] = json.loads(path.read_text(encoding="utf-8"))["metrics"]
    return runs


def seeds_holding(chapter: str, better: str, worse: str, folder: Path | None = None) -> tuple[int, int]:
    """In how many of `chapter`'s recorded seeds `better` > `worse`, out of how many seeds."""
    runs = seed_runs(chapter, folder)
    if not runs:
        raise FileNotFoundError(f"no run of {chapter} per seed under {folder or results_dir(SEEDS)}; "
                                f"record them with: python bench/ci_seeds.py --out results/{SEEDS} {chapter}")
    return sum(m[better] > m[worse] for m in runs.values()), len(runs)


def seed_table(chapter: str, rows: Mapping[str, str], folder: Path | None = None) -> str:
    """A Markdown table of `chapter`'s recorded runs per seed: one row per label -> metric, one
    column per seed, then mean and standard deviation. Chapters 02-05 show their lesson's spread."""
    from ftcourse.tables import markdown_table

    runs = seed_runs(chapter, folder)
    if not runs:
        return (f"*The runs of this chapter per seed are recorded in the course's repository, under "
                f"`results/{SEEDS}/`; the book shows them.*")
    seeds = sorted(runs)
    table = []
    for label, metric in rows.items():
        values = [runs[k][metric] for k in seeds]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        table.append([label, *values, statistics.fmean(values), spread])
    return markdown_table(table, ["strategy", *(f"seed {k}" for k in seeds), "mean", "sd"])


def check(metrics: Mapping[str, float], expected: Mapping[str, tuple[float, float]]) -> None:
    """Assert each expected metric lies in its [low, high] range; names every miss."""
    misses = []
    for name, (low, high) in expected.items():
        if name not in metrics:
            misses.append(f"{name}: not recorded")
        elif not low <= metrics[name] <= high:
            misses.append(f"{name}={metrics[name]:.4g} outside [{low}, {high}]")
    if misses:
        raise AssertionError("metrics out of their expected ranges: " + "; ".join(misses))
