"""The second environment, `.venv-adapters`, of the AdapterHub chapter (transformers 4.57).

`tasks.py` makes it and registers its python as the Jupyter kernel `ftcourse-adapters`; the
chapters that need it name that kernel in their header, and nothing else does. These checks
need neither environment to exist: they read the files and write kernel specs to a temp folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

ROOT = Path(__file__).resolve().parents[1]


def kernel_name(notebook: Path) -> str:
    return json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["kernelspec"]["name"]


def test_adapter_chapters_and_only_they_name_the_adapters_kernel(tasks) -> None:
    own = {ROOT / name for name in tasks.ADAPTERS_NOTEBOOKS}
    assert own and all(p.is_file() for p in own), own
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        expected = tasks.ADAPTERS_KERNEL if notebook in own else "python3"
        assert kernel_name(notebook) == expected, notebook.name


def test_extra_pins_match_the_constraints_file() -> None:
    line = re.search(r"^adapterhub = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(), re.M)
    assert line, "pyproject.toml has no one-line `adapterhub = [...]` extra"
    extra = {"adapterhub": re.findall(r'"([^"]+)"', line.group(1))}
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "constraints-adapters.txt").read_text(), re.M))
    for requirement in extra["adapterhub"]:
        name, _, version = requirement.partition("==")
        if version:
            assert pins.get(name) == version, f"{requirement} vs constraints-adapters.txt {pins.get(name)}"
    assert pins["transformers"].startswith("4.57."), "adapters 1.3 needs transformers 4.57"
    assert "torch" not in pins, "torch comes from .venv's version, never from the constraints file"
    # The main environment stays on transformers 5.
    main = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M))
    assert main["transformers"].startswith("5."), main["transformers"]


def test_kernel_spec_points_at_the_adapters_python(tasks, tmp_path, monkeypatch) -> None:
    main, second = tmp_path / "venv", tmp_path / "venv-adapters"
    python = second / "bin" / "python"
    monkeypatch.setattr(tasks, "VENV", main)
    monkeypatch.setattr(tasks, "ADAPTERS_VENV", second)
    monkeypatch.setattr(tasks, "ADAPTERS_PYTHON", python)
    tasks.install_adapters_kernel()
    tasks.install_adapters_kernel()  # again: rewritten, not duplicated or broken
    for prefix in (main, second):
        folder = prefix / "share" / "jupyter" / "kernels"
        manager = KernelSpecManager(kernel_dirs=[str(folder)])
        spec = manager.get_kernel_spec(tasks.ADAPTERS_KERNEL)
        assert spec.argv[:3] == [str(python), "-m", "ipykernel_launcher"]
        assert "{connection_file}" in spec.argv and spec.language == "python"
        assert sorted(p.name for p in (folder / tasks.ADAPTERS_KERNEL).iterdir()) == ["kernel.json"]
