"""One repository URL and git ref, set once in _config.yml (`repository: url, branch`): every
chapter's install cell installs ftcourse from that URL at that ref, and the README's Colab badges
open the chapters at that ref, so a reader's chapter and package always match."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def repository() -> tuple[str, str]:
    """(url, branch) from _config.yml's `repository:` block."""
    block = re.search(r"^repository:\n((?:[ \t]+.*\n)+)", (ROOT / "_config.yml").read_text(), re.M)
    assert block, "_config.yml has no `repository:` block with url and branch"
    fields = dict(re.findall(r"^\s+(\w+):\s*(\S+)", block.group(1), re.M))
    assert fields.get("url", "").startswith("https://github.com/") and fields.get("branch"), fields
    return fields["url"].rstrip("/"), fields["branch"]


def install_urls(text: str) -> list[str]:
    return re.findall(r'%pip install -q "ftcourse(?:\[[^\]]*\])? @ git\+(\S+?)"', text)


@pytest.mark.parametrize("stem", CHAPTERS)
def test_install_cell_uses_the_books_repository_and_ref(stem):
    url, branch = repository()
    notebook = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    texts = {".py": (ROOT / "notebooks" / f"{stem}.py").read_text(encoding="utf-8"),
             ".ipynb": "\n".join("".join(cell["source"]) for cell in notebook["cells"])}
    for suffix, text in texts.items():
        found = install_urls(text)
        assert found == [f"{url}@{branch}"], (
            f"notebooks/{stem}{suffix} installs from {found}; _config.yml says {url} at {branch}: "
            f"write git+{url}@{branch} in its install cell (then jupytext --sync)"
        )


def test_readme_badges_open_every_chapter_at_the_ref():
    url, branch = repository()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    slug = url.removeprefix("https://github.com/")
    links = re.findall(r"https://colab\.research\.google\.com/github/([^)\s]+)", readme)
    expected = [f"{slug}/blob/{branch}/notebooks/{stem}.ipynb" for stem in CHAPTERS]
    assert links == expected, f"README's Colab links should be, in order: {expected}"
    others = {m for m in re.findall(r"https://github\.com/([\w.-]+/[\w.-]+)", readme)} - {slug}
    assert not others, f"README links to {others}, not to {slug}"


def test_checks_catch_a_moved_repository():
    assert install_urls('%pip install -q "ftcourse[hf] @ git+https://github.com/other/fork@dev"') == [
        "https://github.com/other/fork@dev"]
    assert install_urls('%pip install -q "ftcourse @ git+https://github.com/ftcourse/ftcourse"') == [
        "https://github.com/ftcourse/ftcourse"]  # no ref: the check above then fails
