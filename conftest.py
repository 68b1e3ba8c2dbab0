"""Every test and every notebook run by pytest uses the offline `ci` profile.

Set at import, before any test or kernel starts: nbmake's kernels inherit this environment,
and so do pytest-xdist's workers (they find the values already set and keep them).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("FTCOURSE_PROFILE", "ci")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Figures in tests draw off-screen. Set here, in this process only: the notebooks' kernels inherit
# the environment, and MPLBACKEND=Agg there would keep every figure out of the executed chapters.
if "MPLBACKEND" not in os.environ:
    import matplotlib

    matplotlib.use("Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# A cache of our own for the run: what the `ci` profile generates (its GloVe file, tokenizers)
# is shared by all tests of the run, while a user's real downloads in ~/.cache are never read,
# so a test cannot pass here only because of something fetched earlier on this machine.
_OWN_CACHE: Path | None = None
if "FTCOURSE_CACHE" not in os.environ:
    _OWN_CACHE = Path(tempfile.mkdtemp(prefix="ftcourse-test-cache-"))
    os.environ["FTCOURSE_CACHE"] = str(_OWN_CACHE)
    os.environ.setdefault("HF_HOME", str(_OWN_CACHE / "huggingface"))


def pytest_unconfigure(config) -> None:
    # Only the process that made the folder removes it: xdist workers inherit it from the main one.
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def tasks():
    """`tasks.py` (the project's two commands) as a module, for the tests of its checks."""
    spec = importlib.util.spec_from_file_location("ftcourse_tasks", Path(__file__).parent / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look modules up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)
