"""Markdown tables for the chapters' outputs: one builder, so every table on a page formats numbers
the same way, escapes what Markdown would misread and keeps its columns readable at book width.

`markdown_table(rows, header)` takes rows as sequences (in the header's order) or as mappings (keyed
by the header's names): integers get thousands separators, floats `digits` decimals, `None` a dash,
text is cut to `width` characters with an ellipsis and an empty string shows as *(empty)*. Chapter
02 onwards; `ftcourse.experiment.table` builds its run tables with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ELLIPSIS = "…"


def format_cell(value, *, digits: int = 3, width: int | None = 60) -> str:
    """One cell as Markdown: numbers formatted, `|` escaped, line breaks joined, long text cut."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    text = str(value).replace("\r", " ").replace("\n", " ")
    if not text.strip():
        return "*(empty)*"
    if width is not None and len(text) > width:
        text = text[: max(width - 1, 1)].rstrip() + ELLIPSIS
    return text.replace("|", "\\|")


def markdown_table(
    rows: Sequence[Sequence | Mapping],
    header: Sequence[str],
    *,
    digits: int = 3,
    width: int | None = 60,
) -> str:
    """A Markdown table: `header` names the columns; each row is a sequence in that order or a
    mapping keyed by those names (a missing key shows as a dash). Chapters 02-17."""
    if not header:
        raise ValueError("markdown_table needs at least one column name in `header`")
    lines = ["| " + " | ".join(format_cell(h, width=None) for h in header) + " |", "|" + "---|" * len(header)]
    for number, row in enumerate(rows):
        if isinstance(row, Mapping):
            unknown = sorted(set(row) - set(header))
            if unknown:
                raise ValueError(f"row {number} has columns {unknown} that the header {list(header)} lacks")
            cells = [row.get(name) for name in header]
        else:
            cells = list(row)
            if len(cells) != len(header):
                raise ValueError(f"row {number} has {len(cells)} cells for {len(header)} columns {list(header)}")
        lines.append("| " + " | ".join(format_cell(c, digits=digits, width=width) for c in cells) + " |")
    return "\n".join(lines)


__all__ = ["format_cell", "markdown_table"]
