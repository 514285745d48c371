"""The exceptions of the package: one class per exit code of the command line, with its message (the
file, line, field and the fix). ``exit_code`` is the code the CLI exits with for the same failure."""


class UnderwaterError(Exception):
    """Any failure of underwater. Catch this to catch them all. ``keyword``: the keyword argument at
    fault, when the package itself refused a value before the CLI's parser saw it."""

    exit_code = 1

    def __init__(self, *args: object, keyword: "str | None" = None) -> None:
        super().__init__(*args)
        self.keyword = keyword


class InternalError(UnderwaterError):
    """A bug (exit code 1): please report it with the call that caused it."""

    exit_code = 1


class ConfigError(UnderwaterError):
    """A bad argument, config file or query (exit code 2): nothing read or written."""

    exit_code = 2


class InputError(UnderwaterError):
    """An input file cannot be used, or a directory is not a usable run (exit code 3): nothing written."""

    exit_code = 3


class OutputError(UnderwaterError):
    """Outputs could not be written (exit code 4): previous outputs intact."""

    exit_code = 4


class RejectRateError(UnderwaterError):
    """``max_reject_rate`` exceeded (exit code 5): the book was not published."""

    exit_code = 5


class StaleError(UnderwaterError):
    """``fail_on_stale``: some valuations are too old (exit code 6): the book was not published."""

    exit_code = 6
