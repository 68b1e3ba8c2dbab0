"""What a chapter page shows besides prose and calls: the package's own code where that code is
the lesson, with a link to where it is defined, so the page and the package hold one copy of it.

`show_code(obj, ...)` renders the source of functions, classes or methods of `ftcourse` as one
Python block under a "Defined in" line that links each to its file and lines in the course's
repository (`REPOSITORY`, `REF`: the same as the book's `_config.yml`, checked by the tests).
"""

from __future__ import annotations

import inspect
from pathlib import Path

REPOSITORY = "https://github.com/ftcourse/ftcourse"
REF = "main"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def definition(obj) -> tuple[str, int, int]:
    """(path inside the repository, first line, last line) of an ftcourse object's source."""
    target = inspect.unwrap(obj)
    try:
        path = Path(inspect.getsourcefile(target) or "").resolve()
        lines, start = inspect.getsourcelines(target)
    except (OSError, TypeError) as err:
        raise TypeError(f"{obj!r} has no Python source to show ({err}); pass a function, class or method") from err
    try:
        relative = path.relative_to(_PACKAGE_ROOT).as_posix()
    except ValueError:
        raise ValueError(f"{obj!r} is defined in {path}, outside ftcourse: show_code shows the course's own code") from None
    if not relative.startswith("ftcourse/"):
        raise ValueError(f"{obj!r} is defined in {relative}, outside ftcourse: show_code shows the course's own code")
    return relative, start, start + len(lines) - 1


def source_link(obj) -> str:
    """A Markdown link to where `obj` is defined: `ftcourse/x.py` lines a-b, in the repository."""
    relative, first, last = definition(obj)
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", str(obj)))
    return f"[`{name}`]({REPOSITORY}/blob/{REF}/{relative}#L{first}-L{last}) in `{relative}`"


def show_code(*objects):
    """The source of `objects` (ftcourse functions, classes or methods) as a Python block under a
    "Defined in" line linking each to its file and lines; a Markdown object a notebook displays."""
    from IPython.display import Markdown

    if not objects:
        raise ValueError("show_code needs at least one function, class or method")
    links = "; ".join(source_link(obj) for obj in objects)
    code = "\n\n".join(inspect.getsource(inspect.unwrap(obj)).rstrip() for obj in objects)
    return Markdown(f"Defined in {links}:\n\n```python\n{code}\n```")


__all__ = ["REF", "REPOSITORY", "definition", "show_code", "source_link"]
