"""The one Markdown table builder the chapters use (ftcourse.tables)."""

import pytest

from ftcourse.tables import format_cell, markdown_table


def test_numbers_text_and_gaps_are_formatted_alike():
    table = markdown_table([("lora", 0.78312, 11264, None, True), {"method": "a|b\nc", "accuracy": 0.5}],
                           ["method", "accuracy", "trainable", "best epoch", "reused"])
    assert table.splitlines() == [
        "| method | accuracy | trainable | best epoch | reused |",
        "|---|---|---|---|---|",
        "| lora | 0.783 | 11,264 | - | yes |",
        "| a\\|b c | 0.500 | - | - | - |",
    ]


def test_long_cells_are_cut_and_empty_ones_shown():
    assert format_cell("The capital of of of " * 10, width=20) == "The capital of of o…"
    assert len(format_cell("x" * 500, width=60)) == 60
    assert format_cell("") == "*(empty)*" and format_cell("   ") == "*(empty)*"
    assert format_cell(1.23456, digits=1) == "1.2" and format_cell("short", width=None) == "short"


def test_bad_rows_name_the_problem():
    with pytest.raises(ValueError, match="row 0 has 2 cells for 3 columns"):
        markdown_table([(1, 2)], ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"row 1 has columns \['z'\]"):
        markdown_table([{"a": 1}, {"z": 2}], ["a", "b"])
    with pytest.raises(ValueError, match="at least one column"):
        markdown_table([], [])
