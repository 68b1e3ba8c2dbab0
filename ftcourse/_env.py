"""Profiles and locations: the one switch between the offline `ci` world and the real `full` one.

Taught in the "How to use this book" page.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
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



def publish_folder(target: Path, write: Callable[[Path], None], marker: str) -> Path:
    """Make the cached folder `target` whole or not at all: `write(folder)` fills a temporary
    folder beside it, which is then renamed into place. When two processes build the same folder
    at once, the second rename fails and the first one's copy (holding the file `marker`) is kept.
    Used for the ci tokenizers and pre-trained stand-ins (`ftcourse.hf`, `ftcourse.standins`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        write(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / marker).is_file():  # not a concurrent writer's copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target

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


_current_device = device  # training_precision's parameter shadows the name


@dataclass(frozen=True)
class Precision:
    """The number format training runs in on a device, and whether the loss must be scaled.

    `name` is "bf16", "fp16" or "fp32"; `autocast_dtype` is None for fp32 (no autocast).
    `trainer_flags()` gives the same choice to TrainingArguments and SFTConfig,
    `accelerate_mixed_precision` to accelerate's `Accelerator(mixed_precision=...)`.
    """

    name: str
    loss_scaling: bool

    @property
    def autocast_dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    @property
    def accelerate_mixed_precision(self) -> str:
        return "no" if self.name == "fp32" else self.name

    def trainer_flags(self) -> dict[str, bool]:
        return {"bf16": self.name == "bf16", "fp16": self.name == "fp16"}


def training_precision(device=None) -> Precision:
    """bf16 where the GPU computes it natively (compute capability 8.0 on: A100, L4, H100), fp16
    with loss scaling on older GPUs (Colab's T4: 7.5, whose bf16 is only emulated, and slow),
    float32 on CPU and Apple MPS. Used by `fit`, the Trainer and SFT configurations and the
    accelerate loop; taught in "How to use this book"."""
    import torch

    kind = (torch.device(device) if device is not None else _current_device()).type
    if kind != "cuda":
        return Precision("fp32", loss_scaling=False)
    # Without `including_emulation=False` a T4 answers True: bf16 runs there, emulated.
    if torch.cuda.is_bf16_supported(including_emulation=False):
        return Precision("bf16", loss_scaling=False)
    return Precision("fp16", loss_scaling=True)
