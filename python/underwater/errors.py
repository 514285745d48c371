"""The exceptions of the package, created in its native part as polars creates its own: one class per
exit code of the command line under :class:`UnderwaterError`, with its message (the file, line, field
and the fix). ``exit_code`` is the code the CLI exits with for the same failure; every instance also has
``path`` (the file or directory), ``line``, ``field`` (the config key, flag, column or segment) and
``keyword`` (the keyword argument refused), each ``None`` where the error has none."""

from __future__ import annotations

from ._native import (
    ConfigError,
    InputError,
    InternalError,
    OutputError,
    RejectRateError,
    StaleError,
    UnderwaterError,
)

__all__ = [
    "ConfigError",
    "InputError",
    "InternalError",
    "OutputError",
    "RejectRateError",
    "StaleError",
    "UnderwaterError",
]


def refused(message: str, keyword: str) -> ConfigError:
    """The error for a keyword argument the package refuses before the CLI's parser sees it."""
    error = ConfigError(message)
    error.keyword = keyword
    return error
