"""Sphinx extension for the results page: read it after the chapters, and on every build.

Sphinx reads pages in alphabetical order, which would put `book/results` before
`notebooks/*`; the page must come after them to show the runs this build just made.
"""

from __future__ import annotations

RESULTS_PAGE = "book/results"
# Pages executed like notebooks that are no chapters.
NOT_CHAPTERS = (RESULTS_PAGE, "book/exercises", "book/heuristics", "book/models_and_data")


def _read_results_last(app, env, docnames: list[str]) -> None:
    if RESULTS_PAGE in docnames:
        docnames.remove(RESULTS_PAGE)
        docnames.append(RESULTS_PAGE)


def _always_outdated(app, env, added, changed, removed) -> list[str]:
    # The page's source never changes; the JSON files it reads do.
    return [RESULTS_PAGE] if RESULTS_PAGE in env.found_docs else []


def _no_launch_buttons(app, env) -> None:
    # These pages are executed like notebooks but are no chapters: a "Colab" button on them would
    # open a Markdown file. The theme shows launch buttons on pages whose metadata has a kernelspec.
    for page in NOT_CHAPTERS:
        if page in env.metadata:
            env.metadata[page].pop("kernelspec", None)


def setup(app) -> dict:
    app.connect("env-get-outdated", _always_outdated)
    app.connect("env-updated", _no_launch_buttons)
    app.connect("env-before-read-docs", _read_results_last)
    # Reading in parallel would lose the order this extension exists for.
    return {"parallel_read_safe": False, "parallel_write_safe": True}
