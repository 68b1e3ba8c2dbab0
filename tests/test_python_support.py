"""ftcourse runs on the Pythons pyproject names (3.11 here, 3.13 in Colab): nothing in it uses a
standard-library module or function that 3.12 or 3.13 removed, and the metadata says so."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "ftcourse").rglob("*.py"), ROOT / "tasks.py", ROOT / "conftest.py"])

# PEP 594's dead batteries (gone in 3.13) and the modules 3.12 removed.
REMOVED_MODULES = {
    "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap", "msilib", "nis",
    "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib",
    "lib2to3", "distutils", "asynchat", "asyncore", "imp", "smtpd",
}
# Functions and classes removed from modules that remain (3.12 and 3.13 "What's New").
REMOVED_NAMES = {
    "locale": {"resetlocale"}, "unittest": {"makeSuite", "findTestCases", "getTestCaseNames"},
    "configparser": {"SafeConfigParser", "LegacyInterpolation"}, "pkgutil": {"ImpImporter", "ImpLoader"},
    "ssl": {"wrap_socket", "match_hostname", "RAND_pseudo_bytes"}, "gzip": {"GzipFile.filename"},
    "typing": {"io", "re"}, "importlib": {"find_loader"}, "pathlib": {"PurePath.is_reserved"},
}


def uses_of_removed(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in REMOVED_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            root = node.module.split(".")[0]
            if root in REMOVED_MODULES:
                found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names if a.name in REMOVED_NAMES.get(node.module, ())]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in REMOVED_NAMES.get(node.value.id, ()):
                found.append(f"{node.value.id}.{node.attr}")
    return found


def test_the_check_finds_removed_apis():
    sample = "import imp\nfrom cgi import escape\nimport locale\nlocale.resetlocale()\nfrom typing import io\n"
    assert sorted(uses_of_removed(sample)) == ["cgi", "imp", "locale.resetlocale", "typing.io"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_stdlib_api_removed_by_python_313(path):
    assert uses_of_removed(path.read_text(encoding="utf-8")) == []


def test_metadata_names_the_supported_pythons():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"].startswith(">=3.11")
    versions = sorted(c.rsplit(":: ", 1)[1] for c in project["classifiers"] if c.count("::") == 2
                      and c.startswith("Programming Language :: Python :: 3."))
    assert versions == ["3.11", "3.12", "3.13"]
