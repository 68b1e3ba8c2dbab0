"""Each chapter is a pair: `NN_slug.py` (the source) and `NN_slug.ipynb` (what runs and renders).

The pair must hold the same cells, the `.ipynb` must carry no outputs, and each chapter must
follow the notebook conventions (kernelspec header; a first code cell that installs ftcourse in
Colab only). The convention checks are tested on broken notebooks too, so they can fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTER = re.compile(r"^\d\d_[a-z0-9_]+$")


def chapter_stems() -> list[str]:
    return sorted(
        {p.stem for p in NOTEBOOKS.glob("*.py")} | {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    )


def cell_signature(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (cell.cell_type, cell.source.rstrip("\n"), tuple(cell.metadata.get("tags", [])))
        for cell in nb.cells
    ]


def output_problems(nb) -> list[str]:
    """Cells of a committed notebook that carry outputs or execution counts."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index} has outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index} has execution_count {cell.execution_count}")
    return problems


def header_problems(py_text: str) -> list[str]:
    """What is missing from a `.py` chapter's jupytext header."""
    match = re.match(r"# ---\n((?:#.*\n)*?)# ---\n", py_text)
    if not match:
        return ["no jupytext header (the '# ---' block at the top)"]
    header = match.group(1)
    problems = []
    if not re.search(r"^#\s+formats: ipynb,py:percent$", header, re.M):
        problems.append("header does not pair 'formats: ipynb,py:percent'")
    if not re.search(r"^#\s+kernelspec:$", header, re.M) or not re.search(
        r"^#\s+name: (python3|ftcourse-adapters)$", header, re.M
    ):  # ftcourse-adapters: the kernel of .venv-adapters (chapter 13, transformers 4.57)
        problems.append("header has no kernelspec with 'name: python3'")
    return problems


_PIP_MAGIC = re.compile(r"^(\s*)[%!]\s*pip\s+install\b.*$", re.M)
# Other shell escapes and magics (e.g. `!python -m ftcourse doctor`) are statements that install nothing.
_OTHER_MAGIC = re.compile(r"^(\s*)[%!].*$", re.M)


def _installs(node: ast.AST) -> bool:
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "_pip_install_":
            return True
        words = [a.value for a in node.args if isinstance(a, ast.Constant)]
        for arg in node.args:
            if isinstance(arg, (ast.List, ast.Tuple)):
                words += [e.value for e in arg.elts if isinstance(e, ast.Constant)]
        return "pip" in words and "install" in words
    return False


def colab_install_problems(source: str) -> list[str]:
    """Check that a first code cell installs ftcourse, and only when running in Colab."""
    if "ftcourse" not in source:
        return ["the first code cell does not install ftcourse"]
    # IPython magics are not Python: turn each `%pip install` into a call we can find.
    code = _PIP_MAGIC.sub(lambda m: f"{m.group(1)}_pip_install_()", source)
    code = _OTHER_MAGIC.sub(lambda m: f"{m.group(1)}pass", code)
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        return [f"the first code cell does not parse: {error}"]

    def guarded(test: ast.AST) -> bool:
        # True only when the test means "running in Colab" (`in`, never `not in` or `not x`).
        if isinstance(test, ast.Name):
            return test.id in colab_names
        if isinstance(test, ast.Compare):
            return "google.colab" in ast.unparse(test) and all(
                isinstance(op, ast.In) for op in test.ops
            )
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
            return any(guarded(value) for value in test.values)
        return False

    colab_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and guarded(node.value):
            colab_names.update(t.id for t in node.targets if isinstance(t, ast.Name))

    found, unguarded = 0, 0

    def visit(node: ast.AST, in_colab: bool) -> None:
        nonlocal found, unguarded
        if _installs(node):
            found += 1
            unguarded += not in_colab
        if isinstance(node, ast.If):
            visit(node.test, in_colab)
            for child in node.body:
                visit(child, in_colab or guarded(node.test))
            for child in node.orelse:
                visit(child, in_colab)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, in_colab)

    visit(tree, False)
    if not found:
        return ["the first code cell has no `%pip install` of ftcourse"]
    if unguarded:
        return [
            f"{unguarded} install(s) run outside Colab: guard them with "
            '`if "google.colab" in sys.modules:`'
        ]
    return []


def first_code_cell(nb):
    return next((cell for cell in nb.cells if cell.cell_type == "code"), None)


def test_there_are_chapters() -> None:
    assert chapter_stems(), f"no notebooks in {NOTEBOOKS}"


@pytest.mark.parametrize("stem", chapter_stems())
def test_pair_exists_and_is_named_as_a_chapter(stem: str) -> None:
    assert CHAPTER.match(stem), f"{stem}: chapters are named NN_slug (lower case)"
    missing = [s for s in (".py", ".ipynb") if not (NOTEBOOKS / f"{stem}{s}").is_file()]
    fix = {
        ".ipynb": f"jupytext --sync notebooks/{stem}.py",
        ".py": f"jupytext --set-formats ipynb,py:percent notebooks/{stem}.ipynb",
    }
    assert not missing, (
        f"notebooks/{stem} has no {missing[0]} twin: run `{fix[missing[0]]}` and commit both files"
    )


@pytest.mark.parametrize("stem", chapter_stems())
def test_pair_has_the_same_cells(stem: str) -> None:
    py_path, nb_path = NOTEBOOKS / f"{stem}.py", NOTEBOOKS / f"{stem}.ipynb"
    if not (py_path.is_file() and nb_path.is_file()):
        pytest.skip("one twin is missing; test_pair_exists_and_is_named_as_a_chapter reports it")
    from_py = cell_signature(jupytext.read(py_path))
    from_nb = cell_signature(nbformat.read(nb_path, as_version=4))
    assert len(from_py) == len(from_nb), (
        f"{stem}: {len(from_py)} cells in the .py, {len(from_nb)} in the .ipynb; "
        f"run `jupytext --sync notebooks/{stem}.py`"
    )
    for index, (a, b) in enumerate(zip(from_py, from_nb)):
        assert a == b, f"{stem}: cell {index} differs between .py and .ipynb; run jupytext --sync"


@pytest.mark.parametrize("stem", chapter_stems())
def test_ipynb_has_no_outputs(stem: str) -> None:
    nb_path = NOTEBOOKS / f"{stem}.ipynb"
    if not nb_path.is_file():
        pytest.skip("no .ipynb; test_pair_exists_and_is_named_as_a_chapter reports it")
    problems = output_problems(nbformat.read(nb_path, as_version=4))
    assert not problems, f"{stem}.ipynb: {problems}; clear outputs before committing"


@pytest.mark.parametrize("stem", chapter_stems())
def test_py_has_the_kernelspec_header(stem: str) -> None:
    py_path = NOTEBOOKS / f"{stem}.py"
    if not py_path.is_file():
        pytest.skip("no .py; test_pair_exists_and_is_named_as_a_chapter reports it")
    problems = header_problems(py_path.read_text(encoding="utf-8"))
    assert not problems, f"{stem}.py: {problems}"


@pytest.mark.parametrize("stem", chapter_stems())
def test_first_code_cell_installs_ftcourse_in_colab_only(stem: str) -> None:
    nb_path = NOTEBOOKS / f"{stem}.ipynb"
    if not nb_path.is_file():
        pytest.skip("no .ipynb; test_pair_exists_and_is_named_as_a_chapter reports it")
    cell = first_code_cell(nbformat.read(nb_path, as_version=4))
    assert cell is not None, f"{stem}: no code cell"
    problems = colab_install_problems(cell.source)
    assert not problems, f"{stem}: {problems}"


# The checks themselves, on notebooks that break each convention.

GOOD_INSTALL = 'import sys\n\nif "google.colab" in sys.modules:\n    %pip install -q "ftcourse @ git+https://github.com/ftcourse/ftcourse"\n'


@pytest.mark.parametrize(
    "source",
    [
        GOOD_INSTALL,
        'import sys\nIN_COLAB = "google.colab" in sys.modules\nif IN_COLAB:\n    !pip install ftcourse\n',
        'import subprocess, sys\nif "google.colab" in sys.modules:\n'
        '    subprocess.check_call([sys.executable, "-m", "pip", "install", "ftcourse"])\n',
    ],
)
def test_colab_check_accepts_guarded_installs(source: str) -> None:
    assert colab_install_problems(source) == []


@pytest.mark.parametrize(
    "source, complaint",
    [
        (
            '%pip install -q "ftcourse @ git+https://github.com/ftcourse/ftcourse"\n',
            "outside Colab",
        ),
        (
            'import sys\nif "google.colab" in sys.modules:\n    pass\n%pip install ftcourse\n',
            "outside Colab",
        ),
        (
            'import sys\nif "google.colab" in sys.modules:\n    pass\nelse:\n    %pip install ftcourse\n',
            "outside Colab",
        ),
        (
            'import sys\nif "google.colab" not in sys.modules:\n    %pip install ftcourse\n',
            "outside Colab",
        ),
        (
            'import sys\nIN_COLAB = "google.colab" in sys.modules\nif not IN_COLAB:\n'
            "    %pip install ftcourse\n",
            "outside Colab",
        ),
        ("import ftcourse\n", "no `%pip install`"),
        ("import torch\n", "does not install ftcourse"),
    ],
)
def test_colab_check_rejects_broken_first_cells(source: str, complaint: str) -> None:
    problems = colab_install_problems(source)
    assert problems and complaint in problems[0]


def test_header_check_rejects_a_py_without_kernelspec() -> None:
    text = "# ---\n# jupyter:\n#   jupytext:\n#     formats: ipynb,py:percent\n# ---\n\n# %%\n1\n"
    assert header_problems(text) == ["header has no kernelspec with 'name: python3'"]
    assert header_problems("# %%\n1\n")[0].startswith("no jupytext header")


def test_pair_and_output_checks_catch_drift() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("x = 1")]
    text = jupytext.writes(nb, fmt="py:percent")
    assert cell_signature(jupytext.reads(text, fmt="py:percent")) == cell_signature(nb)
    edited = jupytext.reads(text.replace("x = 1", "x = 2"), fmt="py:percent")
    assert cell_signature(edited) != cell_signature(nb)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[1].execution_count = 3
    assert output_problems(nb) == ["cell 1 has outputs", "cell 1 has execution_count 3"]
