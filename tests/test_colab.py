"""The Colab stack: installing any chapter's ftcourse leaves Colab's kernel, torch and numpy alone.

`python3 tasks.py setup` makes `.venv-colab` from constraints-colab.txt (the versions Colab ships)
and records, for each chapter's install cell, what a dry run of it on that stack would change.
These tests read that record; the `colab` test phase runs the chapters themselves there.
"""

from __future__ import annotations

import hashlib
import json

import pytest

import tasks

pytestmark = pytest.mark.skipif(
    not tasks.COLAB_RECORD.is_file(),
    reason=f"no {tasks.COLAB_RECORD.relative_to(tasks.ROOT)}: `python3 tasks.py setup` makes the Colab-stack venv",
)


@pytest.fixture(scope="module")
def record() -> dict:
    data = json.loads(tasks.COLAB_RECORD.read_text())
    current = hashlib.sha256((tasks.ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if data["pyproject_sha256"] != current:
        pytest.fail("pyproject.toml changed since .venv-colab was made: run `python3 tasks.py setup`")
    return data


def test_record_covers_every_chapter(record):
    cells = tasks.install_cell_extras()
    assert set(record["chapters"]) == set(cells)
    recorded = sorted(c for entry in record["chapters"].values() for c in entry["chapters"])
    assert recorded == sorted(c for chapters in cells.values() for c in chapters)
    assert len(recorded) == len(list((tasks.ROOT / "notebooks").glob("*.py")))


def test_record_starts_from_colab_versions(record):
    for line in (tasks.ROOT / "constraints-colab.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            assert record["colab"][tasks._canonical(name)] == version, name


@pytest.mark.parametrize("package", tasks.COLAB_UNTOUCHABLE)
def test_no_install_cell_moves_colabs_kernel_torch_or_numpy(record, package):
    for extras, entry in record["chapters"].items():
        assert package not in entry["changed"], (
            f"installing ftcourse[{extras}] ({', '.join(entry['chapters'])}) changes Colab's {package}: "
            f"{entry['changed'][package]}"
        )
    for name, entry in record["environments"].items():
        assert package not in entry["changed"], f"{name}: {package} {entry['changed'][package]}"


def test_install_cell_parsing_names_a_broken_cell(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_x.py").write_text("# no install cell here\n")
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    with pytest.raises(tasks.TaskError, match="01_x.py: expected one ftcourse install cell"):
        tasks.install_cell_extras()
