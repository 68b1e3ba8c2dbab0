"""Profiles and locations: the one switch between the offline `ci` world and the real `full` one.

Taught in the "How to use this book" page.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

PROFILES = ("ci", "full")


def profile(name: str | None = None) -> str:
    """The active profile, `"ci"` or `"full"` (from `FTCOURSE_PROFILE`, default `"full"`).

    Loaders take an optional `profile=` argument and pass it here: a given name is checked the
    same way as the environment variable.
    """
    value = name if name is not None else os.environ.get("FTCOURSE_PROFILE", "full")
    value = value.strip().lower() or "full"
    if value not in PROFILES:
        source = "profile" if name is not None else "FTCOURSE_PROFILE"
        raise ValueError(
            f"{source}={value!r} is not a profile; use one of {PROFILES} "
            "(ci: offline, generated data, seconds per notebook; full: the real datasets and models)."
        )
    return value


def choose(ci, full):
    """Return `ci` or `full` according to the active profile (sizes come from the profile)."""
    return ci if profile() == "ci" else full


def data_dir() -> Path | None:
    """The folder of local dataset copies named by `FTCOURSE_DATA_DIR`, or None when unset."""
    value = os.environ.get("FTCOURSE_DATA_DIR", "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(
            f"FTCOURSE_DATA_DIR={value!r} is not a folder. Point it at a folder holding the "
            "original layouts (aclImdb/, ag_news_csv/, glove/), unset it to download, "
            "or set FTCOURSE_PROFILE=ci for the offline generated data."
        )
    return path


def cache_dir() -> Path:
    """Where downloads and generated artefacts are kept (`FTCOURSE_CACHE`, default ~/.cache/ftcourse)."""
    value = os.environ.get("FTCOURSE_CACHE", "").strip()
    path = Path(value).expanduser() if value else Path.home() / ".cache" / "ftcourse"
    path.mkdir(parents=True, exist_ok=True)
    return path


def project_root() -> Path:
    """The ftcourse checkout at or above the working directory, else the working directory."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "ftcourse").is_dir():
            return candidate
    return here


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so that a `ci` run gives the same metrics every time.

    On the `ci` profile it also pins PyTorch to one CPU thread: the tiny models run faster that
    way on small machines (no thread hand-offs for small matrices), and float sums no longer
    depend on how many cores the machine has.
    """
    import numpy as np
    import torch

    if profile() == "ci":
        torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def device():
    """The device training uses: CUDA when present, else Apple MPS, else CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
