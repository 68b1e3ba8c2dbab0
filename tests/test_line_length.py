"""ruff enforces the line lengths the project declares: 120 in the package, tests and tools
(pyproject.toml), 100 in the chapters the book shows (notebooks/ruff.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff is not installed (it is a dev dependency)"
)


def ruff_flags(line: str, as_path: str) -> bool:
    """Whether `ruff check` reports E501 for `line` as if it were the file `as_path`."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
         "--stdin-filename", as_path, "-"],
        input=line + "\n", capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return "E501" in done.stdout


def code_line(width: int) -> str:
    """A code line of `width` characters that ruff cannot exempt as one long word."""
    return 'x = "' + "a" * (width - 8) + ' b"'


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("notebooks/99_probe.py", 100), ("ftcourse/probe.py", 120), ("tests/test_probe.py", 120)],
)
def test_ruff_enforces_the_declared_line_length(path, allowed):
    assert len(code_line(allowed)) == allowed
    assert not ruff_flags(code_line(allowed), path)
    assert ruff_flags(code_line(allowed + 1), path)


def test_chapters_keep_the_notebook_ignores():
    late_import = 'print("setup")\nimport os\n\nprint(os.sep)'

    def codes(path: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
             "--stdin-filename", path, "-"],
            input=late_import + "\n", capture_output=True, text=True, cwd=ROOT, check=False,
        ).stdout

    assert "E402" not in codes("notebooks/99_probe.py")
    assert "E402" in codes("ftcourse/probe.py")
