"""The committed result files (results/full, results/real-cpu, results/ci-seeds) as the book reads them."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted(
    p for folder in ("full", "real-cpu", "ci-seeds") for p in (ROOT / "results" / folder).rglob("*.json")
)
ABSOLUTE_PATH = re.compile(r"(?:^|[\s(:=])(/(?:home|work|tmp|root|Users|mnt|content|var)/[^\s;)]*)")


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_there_are_committed_results():
    assert len(COMMITTED) >= 5, COMMITTED


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_machine_path_in_a_committed_result(path):
    found = [m.group(1) for s in strings(json.loads(path.read_text())) for m in ABSOLUTE_PATH.finditer(s)]
    assert not found, (
        f"{path.relative_to(ROOT)} names paths of the machine that made it: {found[:3]}; record them "
        "relative to the data folder (FTCOURSE_DATA_DIR) or by file name"
    )


def test_the_path_check_finds_absolute_paths():
    text = "IMDB: aclImdb_small in /work/shared/data; GloVe: (/home/me/glove.txt)"
    assert [m.group(1) for m in ABSOLUTE_PATH.finditer(text)] == ["/work/shared/data", "/home/me/glove.txt)"[:-1]]
    assert not list(ABSOLUTE_PATH.finditer("IMDB: aclImdb_small in the data folder; accuracy/lora"))
