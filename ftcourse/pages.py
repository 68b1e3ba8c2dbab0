"""What a chapter page shows besides prose and calls: the package's own code where that code is
the lesson, with a link to where it is defined, so the page and the package hold one copy of it.

`show_code(obj, ...)` renders the source of functions, classes or methods of `ftcourse` as one
Python block under a "Defined in" line that links each to its file and lines in the course's
repository (`REPOSITORY`, `REF`: the same as the book's `_config.yml`, checked by the tests).
`banner(chapter)` says, near the top of a chapter, which profile, data, models and hardware
produced the outputs below it, and where the real-data and source figures are.
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
        raise ValueError(
            f"{obj!r} is defined in {path}, outside ftcourse: show_code shows the course's own code"
        ) from None
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


def banner_text(chapter: str, profile: str | None = None, device: str | None = None,
                real_data: Path | None = None, models: tuple[str, ...] | None = None) -> str:
    """The banner's Markdown (see `banner`); `real_data` is the folder of recorded real-data runs
    (default: `results/real-cpu` of the checkout, absent on Colab); `models` the roles the page
    really loaded on this profile (default: the `full` roles of `catalog.CHAPTERS`)."""
    from ftcourse import catalog, hf
    from ftcourse._env import profile as active_profile
    from ftcourse.results import device_description, results_dir

    if chapter not in catalog.CHAPTERS and not chapter[:2].isdigit():
        raise KeyError(f"unknown chapter {chapter!r}: pass the notebook's stem, e.g. '02_transfer_learning'")
    used = catalog.CHAPTERS.get(chapter, {"models": (), "data": ()})
    profile = active_profile(profile)
    device = device or device_description()
    data = [catalog.DATASETS[d].name for d in used["data"]]
    if profile == "ci":
        models = [hf.describe(role, "ci") for role in (used["models"] if models is None else models)]
        what = "; ".join(filter(None, [
            f"generated stand-ins for {', '.join(data)}" if data else "",
            ", ".join(models),
        ])) or "small generated inputs"
        text = (f"**Where the outputs on this page come from.** This page was run on the `ci` profile "
                f"({what}), on {device}. Its numbers show that the code runs and learns; they are not "
                "the figures the real data and models give.")
        real = [catalog.DATASETS[d].name for d in used["data"]] + [hf.MODELS[r].hub for r in used["models"]]
        if real:
            text += f" The `full` profile runs the same code on {', '.join(real)}."
    else:
        models = [hf.MODELS[role].hub for role in used["models"]]
        text = (f"**Where the outputs on this page come from.** This page was run on the `full` profile "
                f"({', '.join(data + models) or 'the chapter’s own inputs'}), on {device}, at the sizes its "
                "parameters cell sets.")
    folder = real_data if real_data is not None else results_dir("real-cpu")
    if (folder / f"{chapter}.json").is_file():
        text += (" A run of this chapter on real data (on a CPU, with the sizes it names) is shown at the end "
                 "of the page, labelled.")
    text += (" Where the chapter compares with the source documents, their figures are quoted as theirs, "
             "and the book's results page lists every recorded run with its provenance.")
    return text


def banner(chapter: str, *models: str):
    """A note near the top of a chapter: which profile, data, models and hardware produced the
    outputs below, whether a recorded real-data run is shown, and where the source's figures are.
    `models`: the roles the page loads on this profile, where they differ from its `full` roles
    (e.g. `pages.banner("05_bert_strategies", ROLE)` with ROLE "minilm" on ci)."""
    from IPython.display import Markdown

    return Markdown(banner_text(chapter, models=models or None))


__all__ = ["REF", "REPOSITORY", "banner", "banner_text", "definition", "show_code", "source_link"]
