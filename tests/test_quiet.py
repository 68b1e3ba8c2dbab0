"""The library warnings ftcourse silences are exactly the listed ones: same text elsewhere, or
another category, still shows."""

from __future__ import annotations

import logging
import warnings

import pytest

import ftcourse  # noqa: F401  (installs the filters)
from ftcourse._quiet import NOISE


def warn_from(module: str, message: str, category: type[Warning]) -> list[warnings.WarningMessage]:
    """Raise `message` as if from `module` (the filters match the module the warning comes from)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # whatever the interpreter's or pytest's filters are
        ftcourse._quiet.silence_library_noise()  # in front of it, as on import
        exec(compile(f"import warnings\nwarnings.warn({message!r}, {category.__name__})", module, "exec"),
             {"__name__": module, category.__name__: category})
    return caught


@pytest.mark.parametrize(("message", "category", "module"), NOISE)
def test_each_listed_warning_is_silenced_only_at_its_source(message, category, module) -> None:
    text = message.replace("\\", "") + " (as the library says it)"
    source = module.replace("\\", "") + ("peft_model" if module.endswith(".") else "")
    assert warn_from(source, text, category) == []
    assert len(warn_from("my_code", text, category)) == 1  # the same words from elsewhere show
    other = RuntimeWarning
    assert len(warn_from(source, text, other)) == 1  # and so does another category


@pytest.mark.parametrize(("logger_name", "start"), ftcourse._quiet.LOG_NOISE)
def test_each_listed_log_message_is_dropped_only_at_its_logger(logger_name, start, caplog) -> None:
    ftcourse._quiet.silence_library_noise()
    ftcourse._quiet.silence_library_noise()  # installed once, however often it is called
    assert sum(isinstance(f, ftcourse._quiet._DropMessages) for f in logging.getLogger(logger_name).filters) == 1
    with caplog.at_level(logging.WARNING):
        logging.getLogger(logger_name).warning(start + ": No module named 'kernels'")
        logging.getLogger(logger_name).warning("another message from the same logger")
        logging.getLogger("my_code").warning(start + " (the same words elsewhere)")
    shown = [record.getMessage() for record in caplog.records]
    assert shown == ["another message from the same logger", start + " (the same words elsewhere)"]
