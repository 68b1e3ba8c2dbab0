"""ftcourse.pages: the package's code shown on a page, linked to where it is defined."""

import inspect
import re
from pathlib import Path

import pytest

from ftcourse import pages
from ftcourse.adapt.lora import LinearWithLoRA, LoRALayer
from ftcourse.train import fit

ROOT = Path(__file__).resolve().parents[1]


def test_the_link_points_at_the_books_repository_and_ref():
    block = re.search(r"^repository:\n((?:[ \t]+.*\n)+)", (ROOT / "_config.yml").read_text(), re.M)
    fields = dict(re.findall(r"^\s+(\w+):\s*(\S+)", block.group(1), re.M))
    assert (pages.REPOSITORY, pages.REF) == (fields["url"].rstrip("/"), fields["branch"])


def test_the_link_names_the_file_and_lines_of_the_definition():
    relative, first, last = pages.definition(LoRALayer)
    lines = (ROOT / relative).read_text().splitlines()
    assert relative == "ftcourse/adapt/lora.py"
    assert lines[first - 1].startswith("class LoRALayer")
    assert last - first + 1 == len(inspect.getsource(LoRALayer).splitlines())
    assert pages.source_link(LoRALayer) == (
        f"[`LoRALayer`]({pages.REPOSITORY}/blob/{pages.REF}/ftcourse/adapt/lora.py#L{first}-L{last}) "
        "in `ftcourse/adapt/lora.py`")


def test_show_code_renders_the_source_of_each_object():
    shown = pages.show_code(LoRALayer, LinearWithLoRA.forward, fit).data
    assert shown.startswith("Defined in [`LoRALayer`]") and "[`LinearWithLoRA.forward`]" in shown
    assert "ftcourse/train.py" in shown and inspect.getsource(fit).strip() in shown
    assert shown.count("```python") == 1 and shown.rstrip().endswith("```")


def test_only_ftcourse_code_is_shown():
    with pytest.raises(ValueError, match="outside ftcourse"):
        pages.show_code(pytest.raises)
    with pytest.raises(TypeError, match="no Python source"):
        pages.show_code(len)
    with pytest.raises(ValueError, match="at least one"):
        pages.show_code()


def test_the_banner_names_profile_data_models_and_hardware(tmp_path):
    ci = pages.banner_text("05_bert_strategies", "ci", device="cpu: 2 cores (x86_64)", real_data=tmp_path)
    assert "`ci` profile" in ci and "IMDB movie reviews" in ci and "bert-base-uncased" in ci
    assert "cpu: 2 cores" in ci and "random weights" in ci and "shown at the end" not in ci
    minilm = pages.banner_text("05_bert_strategies", "ci", "cpu", tmp_path, models=("minilm",))
    assert "all-MiniLM-L6-v2" in minilm and "random weights" not in minilm
    (tmp_path / "05_bert_strategies.json").write_text("{}")
    assert "shown at the end of the page" in pages.banner_text("05_bert_strategies", "ci", "cpu", tmp_path)
    full = pages.banner_text("09_trainer", "full", device="cuda: Tesla T4", real_data=tmp_path)
    assert "`full` profile" in full and "distilbert-base-uncased" in full and "Tesla T4" in full
    assert "small generated inputs" in pages.banner_text("01_positional_encoding", "ci", "cpu", tmp_path)
    with pytest.raises(KeyError, match="notebook's stem"):
        pages.banner_text("transfer", "ci", "cpu", tmp_path)
