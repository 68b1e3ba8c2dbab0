"""`python -m ftcourse run`: runs a notebook headless, names the failing cell, checks results."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from ftcourse.__main__ import main
from ftcourse.runner import RunError, default_output, kernel_environment, run_notebook


def write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_markdown_cell("# A tiny chapter")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


RECORDS = """
import os
from pathlib import Path
from ftcourse import results
seen = {
    "profile": os.environ["FTCOURSE_PROFILE"],
    "data_dir": os.environ.get("FTCOURSE_DATA_DIR"),
    "cwd": str(Path.cwd()),
}
print("SEEN", seen)
results.record("07_tiny", {"accuracy": 0.75}, data_source="written by the test")
"""


@pytest.fixture
def results_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "results"
    monkeypatch.setenv("FTCOURSE_RESULTS_DIR", str(root))
    return root


def test_run_records_results_on_the_chosen_profile(
    tmp_path: Path, results_root: Path, capsys: pytest.CaptureFixture
) -> None:
    chapter = tmp_path / "chapters"
    chapter.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    notebook = write_notebook(chapter / "07_tiny.ipynb", "x = 1", RECORDS)
    output = tmp_path / "out" / "executed.ipynb"

    code = main(
        [
            "run",
            str(notebook),
            "--profile",
            "full",
            "--data-dir",
            str(data),
            "--output",
            str(output),
        ]
    )

    printed = capsys.readouterr().out
    assert code == 0, printed
    recorded = json.loads((results_root / "full" / "07_tiny.json").read_text())
    assert recorded["metrics"] == {"accuracy": 0.75}
    assert recorded["provenance"]["profile"] == "full"
    # the runner handed the chapter the data folder; the record names it, not the machine's path
    assert recorded["provenance"]["data_dir"] == data.name and str(tmp_path) not in json.dumps(recorded)
    assert "[2/2] cell 2" in printed and str(results_root / "full" / "07_tiny.json") in printed
    executed = nbformat.read(output, as_version=4)
    seen = "".join(o.get("text", "") for o in executed.cells[2].outputs)
    assert f"'cwd': '{chapter}'" in seen and "'profile': 'full'" in seen


def test_failing_cell_is_named_with_its_source_and_error(
    tmp_path: Path, results_root: Path, capsys: pytest.CaptureFixture
) -> None:
    notebook = write_notebook(
        tmp_path / "08_broken.ipynb",
        "x = 1",
        "y = x + 1\nraise ValueError('the loss went to nan')",
        "print('never reached')",
    )
    output = tmp_path / "executed.ipynb"

    code = main(["run", str(notebook), "--profile", "ci", "--output", str(output)])

    err = capsys.readouterr().err
    assert code == 1
    assert "cell 2 failed" in err
    assert "y = x + 1" in err and "ValueError" in err and "the loss went to nan" in err
    executed = nbformat.read(output, as_version=4)
    assert executed.cells[1].outputs == [] and executed.cells[3].outputs == []
    assert any(o.output_type == "error" for o in executed.cells[2].outputs)
    assert not (results_root / "ci").exists()


def test_a_notebook_that_records_nothing_fails(tmp_path: Path, results_root: Path) -> None:
    notebook = write_notebook(tmp_path / "09_silent.ipynb", "print('learned nothing')")
    with pytest.raises(RunError, match="wrote no results.*results.record"):
        run_notebook(notebook, "ci", output=tmp_path / "executed.ipynb", log=lambda _: None)


def test_bad_paths_get_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", str(tmp_path / "nope.ipynb"), "--profile", "ci"]) == 1
    assert "no notebook at" in capsys.readouterr().err

    py_twin = tmp_path / "01_x.py"
    py_twin.write_text("# %%\n1\n")
    write_notebook(tmp_path / "01_x.ipynb", "1")
    assert main(["run", str(py_twin)]) == 1
    assert f"did you mean {tmp_path / '01_x.ipynb'}" in capsys.readouterr().err

    missing = tmp_path / "no-such-data"
    assert main(["run", str(tmp_path / "01_x.ipynb"), "--data-dir", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"--data-dir {missing} is not a folder" in err and "aclImdb/" in err


def test_profile_is_checked(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "x.ipynb", "--profile", "gpu"])
    assert exit_info.value.code == 2
    monkeypatch.setenv("FTCOURSE_PROFILE", "fast")
    assert main(["run", "x.ipynb"]) == 2
    assert "FTCOURSE_PROFILE='fast' is not a profile" in capsys.readouterr().err
    with pytest.raises(RunError, match="unknown profile"):
        kernel_environment("fast", None)


def test_kernel_environment_and_default_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTCOURSE_DATA_DIR", "/somewhere/else")
    env = kernel_environment("full", Path("/data"))
    assert env["FTCOURSE_PROFILE"] == "full" and env["FTCOURSE_DATA_DIR"] == "/data"
    root = Path(__file__).resolve().parents[1]
    chapter = root / "notebooks" / "01_positional_encoding.ipynb"
    assert default_output(chapter, "ci") == root / "_build" / "runs" / "ci" / chapter.name


def test_set_overrides_the_parameters_cell(tmp_path: Path, results_root: Path) -> None:
    notebook = write_notebook(
        tmp_path / "07_tiny.ipynb",
        "EPOCHS = 100\nLR, CLIP = 1.0, 0.1",
        "from ftcourse import results\n"
        "results.record('07_tiny', {'epochs': EPOCHS, 'clip': CLIP}, data_source='test')",
    )
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].metadata["tags"] = ["parameters"]
    nbformat.write(nb, notebook)
    code = main(["run", str(notebook), "--profile", "ci", "--set", "EPOCHS=3", "--set", "CLIP=None",
                 "--output", str(tmp_path / "out.ipynb")])
    assert code == 0
    recorded = json.loads((results_root / "ci" / "07_tiny.json").read_text())["metrics"]
    assert recorded == {"epochs": 3, "clip": None}


def test_set_rejects_unknown_names_and_bad_values(tmp_path: Path, results_root: Path) -> None:
    from ftcourse.runner import inject_overrides, parse_overrides

    with pytest.raises(RunError, match="NAME=VALUE"):
        parse_overrides(["EPOCHS"])
    with pytest.raises(RunError, match="Python literal"):
        parse_overrides(["EPOCHS=ten"])
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("EPOCHS = 100")]
    with pytest.raises(RunError, match="no cell tagged 'parameters'"):
        inject_overrides(nb, {"EPOCHS": 3})
    nb.cells[0].metadata["tags"] = ["parameters"]
    with pytest.raises(RunError, match="EPOCH"):
        inject_overrides(nb, {"EPOCH": 3})


def test_a_progress_bar_is_kept_as_its_final_line(tmp_path: Path, results_root: Path) -> None:
    bar = (
        "import sys, time\n"
        "for step in range(1, 51):\n"
        "    sys.stderr.write(f'\\rtraining {step}/50'); sys.stderr.flush(); time.sleep(0.002)\n"
        "sys.stderr.write('\\n'); print('done')"
    )
    notebook = write_notebook(tmp_path / "09_bar.ipynb", bar, RECORDS.replace("07_tiny", "09_bar"))
    output = tmp_path / "executed.ipynb"
    assert main(["run", str(notebook), "--profile", "ci", "--output", str(output)]) == 0
    outputs = nbformat.read(output, as_version=4).cells[1].outputs
    streams = {(o.name, o.text) for o in outputs if o.output_type == "stream"}
    assert streams == {("stderr", "training 50/50\n"), ("stdout", "done\n")}


def test_missing_jupyter_names_the_extra(monkeypatch, tmp_path):
    import importlib.util

    from ftcourse import runner

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nbclient" else real(name, *a))
    with pytest.raises(RunError, match=r'needs nbclient.*pip install "ftcourse\[run\]"'):
        runner.run_notebook(tmp_path / "x.ipynb", "ci")
