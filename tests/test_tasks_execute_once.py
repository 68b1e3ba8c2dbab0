"""`tasks.py` executes each chapter once and the book renders that execution.

What a stored execution is reused for must change whenever its outputs could: the chapter, any
file of the ftcourse package, the pins, or the profile. These checks build a small copy of the
project layout in a temp folder; nothing here executes a chapter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tasks(tasks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """tasks.py pointed at a small copy of the project layout in a temp folder."""
    module = tasks
    for name, text in {
        "pyproject.toml": "[project]\nname = 'x'\n",
        "constraints.txt": "torch==2.13.0\n",
        "constraints-adapters.txt": "adapters==1.3.0\n",
        "ftcourse/__init__.py": "VERSION = 1\n",
        "ftcourse/adapt/lora.py": "RANK = 2\n",
        "notebooks/01_a.ipynb": '{"cells": []}\n',
        "notebooks/02_b.ipynb": '{"cells": [1]}\n',
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "EXECUTED", tmp_path / "_build" / "executed")
    monkeypatch.delenv("FTCOURSE_TORCH", raising=False)
    return module


def key(tasks, name: str = "01_a", profile: str = "ci") -> str:
    return tasks.execution_key(tasks.ROOT / "notebooks" / f"{name}.ipynb", profile)


def test_key_is_stable_and_differs_by_chapter_and_profile(tasks) -> None:
    assert key(tasks) == key(tasks)
    assert key(tasks) != key(tasks, "02_b")
    assert key(tasks) != key(tasks, profile="full")


@pytest.mark.parametrize(
    "changed",
    ["notebooks/01_a.ipynb", "ftcourse/__init__.py", "ftcourse/adapt/lora.py", "pyproject.toml",
     "constraints.txt", "constraints-adapters.txt"],
)
def test_key_changes_with_the_chapter_the_package_and_the_pins(tasks, changed: str) -> None:
    before = key(tasks)
    path = tasks.ROOT / changed
    path.write_text(path.read_text() + "\n# edited\n")
    assert key(tasks) != before


def test_key_changes_with_a_new_module_and_the_torch_choice(tasks, monkeypatch) -> None:
    before = key(tasks)
    (tasks.ROOT / "ftcourse" / "new.py").write_text("")
    with_module = key(tasks)
    assert with_module != before
    monkeypatch.setenv("FTCOURSE_TORCH", "torch==2.14.1")
    assert key(tasks) != with_module


def test_a_stored_execution_counts_only_when_complete(tasks) -> None:
    store = tasks.EXECUTED / "ci"
    store.mkdir(parents=True)
    notebook = tasks.ROOT / "notebooks" / "01_a.ipynb"
    (store / "01_a.key").write_text(json.dumps({"key": "k", "seconds": 1.0}))
    assert tasks._stored(store, notebook) is None  # no executed notebook, no results yet
    (store / "01_a.ipynb").write_text("{}")
    assert tasks._stored(store, notebook) is None
    (store / "01_a.json").write_text("{}")
    assert tasks._stored(store, notebook) == {"key": "k", "seconds": 1.0}
    (store / "01_a.key").write_text("not json")
    assert tasks._stored(store, notebook) is None


def test_the_book_refuses_to_render_chapters_without_a_current_execution(tasks) -> None:
    with pytest.raises(tasks.TaskError, match="no current execution of 01_a.ipynb, 02_b.ipynb"):
        tasks.render_book({}, strict=True)
