"""The page each chapter makes: a banner cell, the package's code shown through
`pages.show_code` rather than pasted, tables built by `markdown_table`/`experiment.table` rather
than by hand, a "What we learned" recap, the results cell collapsed, and no more than twice as
many code lines as prose lines in the `.py` source.

Every chapter is checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def cells(stem: str) -> list[tuple[str, str]]:
    """(header line, body) of every `# %%` cell of a chapter's py:percent source."""
    text = (NOTEBOOKS / f"{stem}.py").read_text(encoding="utf-8")
    parts = re.split(r"^(# %%.*)$", text, flags=re.MULTILINE)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


def line_counts(stem: str) -> tuple[int, int]:
    code = prose = 0
    for header, body in cells(stem):
        n = sum(1 for line in body.splitlines() if line.strip())
        if "[markdown]" in header:
            prose += n
        else:
            code += n
    return code, prose


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_page_structure(stem):
    all_cells = cells(stem)
    code = "\n".join(body for header, body in all_cells if "[markdown]" not in header)
    assert f'pages.banner("{stem}"' in code, f"{stem}: add a pages.banner cell after the parameters"
    assert "getsource" not in code, f"{stem}: show the package's code with pages.show_code"
    assert '"|---' not in code, f"{stem}: build tables with tables.markdown_table or experiment.table"
    recap = [i for i, (h, b) in enumerate(all_cells) if "[markdown]" in h and "## What we learned" in b]
    hidden = [i for i, (h, b) in enumerate(all_cells) if 'tags=["hide-input"]' in h and "results.record" in b]
    assert recap and hidden and recap[0] < hidden[0], (
        f"{stem}: end with a '## What we learned' recap, then the results cell tagged hide-input")


@pytest.mark.parametrize("stem", CHAPTERS)
def test_code_is_at_most_twice_the_prose(stem):
    code, prose = line_counts(stem)
    assert code <= 2 * prose, f"{stem}: {code} code lines for {prose} prose lines"
