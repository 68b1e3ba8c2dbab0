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

# Floors that are no version a test phase installs, each with its reason.
FLOOR_EXCEPTIONS = {
    # Colab's torch (2.11.0+cu128) cannot be installed here; the colab phase runs 2.13.0 beside
    # Colab's other versions. A higher floor would make every install cell replace Colab's torch.
    "torch": "2.11",
}


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (tasks.ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            package, version = line.split("==")
            pins[tasks._canonical(package)] = version
    return pins


@pytest.fixture(scope="module")
def record() -> dict:
    if not tasks.COLAB_RECORD.is_file():
        pytest.skip(f"no {tasks.COLAB_RECORD.relative_to(tasks.ROOT)}: `python3 tasks.py setup` makes the "
                    "Colab-stack venvs")
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
    for name, version in _pins("constraints-colab.txt").items():
        assert record["colab"][name] == version, name


def test_every_floor_is_a_version_a_phase_runs():
    """Each `>=` in pyproject is the version constraints.txt (the newest) or the Colab stack pins,
    or, where a Colab install cell upgrades a package, the version it upgrades to."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((tasks.ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values()
                                                for r in extra)]
    tested: dict[str, set[Version]] = {}
    for source in ("constraints.txt", "constraints-colab.txt", "constraints-adapters.txt"):
        for name, version in _pins(source).items():
            tested.setdefault(name, set()).add(Version(version))
    if tasks.COLAB_RECORD.is_file():  # what the Colab install cells upgrade or add
        for environment in json.loads(tasks.COLAB_RECORD.read_text())["environments"].values():
            for name, version in [*((n, b) for n, (_, b) in environment["changed"].items()),
                                  *environment["added"].items()]:
                tested.setdefault(name, set()).add(Version(version))
    untested = []
    for text in requirements:
        requirement = Requirement(text)
        name = tasks._canonical(requirement.name)
        for spec in requirement.specifier:
            if spec.operator == ">=" and Version(spec.version) not in tested.get(name, set()):
                if FLOOR_EXCEPTIONS.get(name) != spec.version:
                    untested.append(f"{text} (tested: {sorted(map(str, tested.get(name, ())))})")
    assert untested == []


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
