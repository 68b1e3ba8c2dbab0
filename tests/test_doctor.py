"""`python -m ftcourse doctor`: the checks on this machine, and the known-bad combinations simulated."""

from __future__ import annotations

import pytest

from ftcourse import doctor
from ftcourse.__main__ import main as cli

REAL_VERSION = doctor._version


def fake_versions(monkeypatch, **versions):
    """Pretend the given distributions are installed at these versions (None: not installed)."""
    names = {k.replace("_", "-"): v for k, v in versions.items()}
    monkeypatch.setattr(doctor, "_version", lambda d: names[d] if d in names else REAL_VERSION(d))


def by_name(checks, name):
    found = [c for c in checks if c.name == name]
    assert found, f"no check named {name!r} in {[c.name for c in checks]}"
    return found[0]


def test_this_environment_is_healthy(capsys, monkeypatch):
    monkeypatch.setattr(doctor, "_resolves",
                        lambda host, timeout=3.0: pytest.fail("must not resolve offline"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checks = doctor.run_checks()
    assert [c for c in checks if c.status == doctor.ERROR] == []
    names = {c.name for c in checks}
    assert {"python", "torch", "accelerator", "hub", "profile", "cache", "data dir"} <= names
    assert set(doctor.LIBRARIES) <= names
    assert by_name(checks, "hub").status == doctor.INFO and "HF_HUB_OFFLINE" in by_name(checks, "hub").detail
    assert by_name(checks, "profile").detail.startswith("ci")  # conftest sets the ci profile
    assert cli(["doctor", "--no-network"]) == 0
    assert "[ ok  ] torch" in capsys.readouterr().out


def test_torchtext_that_cannot_load_is_an_error_with_its_fix(monkeypatch, capsys):
    fake_versions(monkeypatch, torchtext="0.18.0")
    calls = []

    def child(module, timeout=120.0):
        calls.append(module)
        return False, "OSError: libtorchtext.so: undefined symbol: _ZN5torch3jit"

    monkeypatch.setattr(doctor, "_import_in_child", child)
    check = by_name(doctor.check_known_bad(), "torchtext")
    assert calls == ["torchtext"]  # imported in a child process, never here
    assert check.status == doctor.ERROR and "undefined symbol" in check.detail
    assert "pip uninstall -y torchtext" in check.fix and "ftcourse.text" in check.fix
    assert doctor.main(network=False) == 1
    out = capsys.readouterr().out
    assert "fix: pip uninstall -y torchtext" in out and "1 problem(s) to fix" in out


def test_torchtext_that_loads_is_only_information(monkeypatch):
    fake_versions(monkeypatch, torchtext="0.18.0")
    monkeypatch.setattr(doctor, "_import_in_child", lambda module, timeout=120.0: (True, ""))
    assert by_name(doctor.check_known_bad(), "torchtext").status == doctor.INFO


def test_torchvision_for_another_torch(monkeypatch):
    fake_versions(monkeypatch, torchvision="0.29.1")
    monkeypatch.setattr(doctor, "_import_in_child",
                        lambda module, timeout=120.0: (False, "RuntimeError: operator torchvision::nms "
                                                                "does not exist"))
    check = by_name(doctor.check_known_bad(), "torchvision")
    assert check.status == doctor.ERROR and "torchvision" in check.fix


def test_adapters_with_transformers_5(monkeypatch):
    fake_versions(monkeypatch, adapters="1.3.0", transformers="5.23.0")
    check = by_name(doctor.check_known_bad(), "adapters")
    assert check.status == doctor.ERROR and "transformers 5.23.0" in check.detail
    assert "pip uninstall -y adapters" in check.fix and ".venv-adapters" in check.fix
    # its own environment, with transformers 4, is the supported set-up
    fake_versions(monkeypatch, adapters="1.3.0", transformers="4.57.6")
    assert [c for c in doctor.check_known_bad() if c.name == "adapters"] == []


def test_adapter_transformers_stub(monkeypatch):
    fake_versions(monkeypatch, adapter_transformers="4.0.0")
    check = by_name(doctor.check_known_bad(), "adapter-transformers")
    assert check.status == doctor.WARN and "uninstall" in check.fix


def test_nothing_known_bad_here():
    assert [c for c in doctor.check_known_bad() if c.status == doctor.ERROR] == []


def test_cuda_build_without_gpu_is_fine_but_said(monkeypatch):
    monkeypatch.setattr(doctor, "_torch_info", lambda: {"version": "2.14.1+cu128", "cuda_build": "12.8",
                                                        "cuda": False, "gpu": None, "mps": False})
    checks = doctor.check_torch()
    assert by_name(checks, "torch").detail == "2.14.1+cu128 (CUDA 12.8 build)"
    accelerator = by_name(checks, "accelerator")
    assert accelerator.status == doctor.INFO
    assert "CUDA build" in accelerator.detail and "fine" in accelerator.detail
    monkeypatch.setattr(doctor, "_torch_info", lambda: {"version": "2.14.1+cu128", "cuda_build": "12.8",
                                                        "cuda": True, "gpu": "NVIDIA T4 (x1)", "mps": False})
    assert by_name(doctor.check_torch(), "accelerator").detail == "CUDA: NVIDIA T4 (x1)"


def test_missing_torch_is_an_error(monkeypatch):
    monkeypatch.setattr(doctor, "_torch_info", lambda: None)
    (check,) = doctor.check_torch()
    assert check.status == doctor.ERROR and "pip install torch" in check.fix


def test_missing_and_old_libraries_are_warnings_with_the_extra(monkeypatch):
    fake_versions(monkeypatch, trl=None, transformers="4.46.0")
    checks = doctor.check_libraries()
    trl = by_name(checks, "trl")
    assert trl.status == doctor.WARN and trl.fix == 'pip install -e ".[sft]"'
    old = by_name(checks, "transformers")
    assert old.status == doctor.WARN and "4.46.0 is older than the 5.15" in old.detail
    assert "--upgrade" in old.fix


def test_hub_checks(monkeypatch):
    monkeypatch.setattr(doctor, "_resolves", lambda host, timeout=3.0: True)
    assert doctor.check_hub({}).status == doctor.OK
    monkeypatch.setattr(doctor, "_resolves", lambda host, timeout=3.0: False)
    offline = doctor.check_hub({})
    assert offline.status == doctor.WARN and "HF_HUB_OFFLINE=1" in offline.fix
    monkeypatch.setattr(doctor, "_resolves", lambda host, timeout=3.0: None)
    assert "in time" in doctor.check_hub({}).detail
    assert doctor.check_hub({}, network=False).status == doctor.INFO
    flagged = doctor.check_hub({"TRANSFORMERS_OFFLINE": "1", "HF_HUB_OFFLINE": "0"})
    assert flagged.status == doctor.INFO and "TRANSFORMERS_OFFLINE" in flagged.detail
    assert "HF_HUB_OFFLINE" not in flagged.detail


def test_bad_profile_and_missing_data_dir_are_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("FTCOURSE_PROFILE", "gpu")
    check = doctor.check_profile()
    assert check.status == doctor.ERROR and "FTCOURSE_PROFILE=ci" in check.fix
    monkeypatch.setenv("FTCOURSE_PROFILE", "ci")
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("FTCOURSE_CACHE", str(tmp_path / "cache"))
    data = by_name(doctor.check_folders({}), "data dir")
    assert data.status == doctor.ERROR and "FTCOURSE_DATA_DIR" in data.fix
    (tmp_path / "aclImdb").mkdir()
    monkeypatch.setenv("FTCOURSE_DATA_DIR", str(tmp_path))
    data = by_name(doctor.check_folders({}), "data dir")
    assert data.status == doctor.OK and "aclImdb" in data.detail


def test_damaged_minilm_is_an_error(monkeypatch):
    def damaged():
        raise ValueError("model.safetensors has sha256 0000, not the published 53aa")

    monkeypatch.setattr(doctor, "_minilm", damaged)
    check = doctor.check_minilm()
    assert check.status == doctor.ERROR and "--force-reinstall" in check.fix
    monkeypatch.setattr(doctor, "_minilm", lambda: None)
    assert doctor.check_minilm().status == doctor.WARN


def test_probes():
    assert doctor._import_in_child("json") == (True, "")
    loads, error = doctor._import_in_child("no_such_module_ftcourse")
    assert not loads and "ModuleNotFoundError" in error
    assert doctor.version_tuple("2.13.0+cpu") == (2, 13, 0)
    assert doctor.version_tuple("5.0.0rc1") == (5, 0, 0)
    assert doctor.version_tuple("1.16") >= (1, 0)


def test_versions_no_phase_ran_are_named_with_what_they_affect(monkeypatch):
    fake_versions(monkeypatch, transformers="5.16.0", torch="2.13.0+cu128", ipykernel="6.17.1",
                  numpy="2.1.3", datasets="3.6.0")
    checks = {c.name: c for c in doctor.check_tested_versions()}
    transformers = checks["transformers (untested)"]
    assert transformers.status == doctor.INFO
    assert "5.16.0 differs from the tested 5.23.0 and 5.15.0" in transformers.detail
    assert "Hugging Face chapters" in transformers.detail and "transformers==5.23.0" in transformers.fix
    assert "datasets (untested)" in checks
    # Tested releases, whatever their build tag, are not named.
    assert not {"torch (untested)", "ipykernel (untested)", "numpy (untested)"} & set(checks)


def _pins(path):
    import re

    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_tested_table_matches_the_constraints_and_the_colab_record():
    import json
    from pathlib import Path

    from ftcourse._tested import TESTED

    root = Path(__file__).resolve().parents[1]
    sources = [_pins(root / "constraints.txt"), _pins(root / "constraints-colab.txt")]
    record = root / ".venv-colab" / "colab-install.json"
    if record.is_file():  # what the install cells add or upgrade on Colab's stack
        for environment in json.loads(record.read_text())["environments"].values():
            sources.append({n: b for n, (_, b) in environment["changed"].items()})
            sources.append(environment["added"])
    for name, tested in TESTED.items():
        if name == "torch":  # installed first, pinned by tasks.py (DEFAULT_TORCH), not a constraints file
            assert tested == ("2.13.0",)
            continue
        expected = {source[name] for source in sources if name in source}
        assert set(tested) >= expected, f"ftcourse/_tested.py: {name} should list {sorted(expected)}"
        if record.is_file():  # without it, what the Colab installs bring is unknown here
            assert set(tested) <= expected, (
                f"ftcourse/_tested.py: {name} lists {sorted(set(tested) - expected)}, which no phase runs")
