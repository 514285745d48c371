"""underwater from Python: negative equity, LTV and deficiency exposure for auto-loan books, exact to
the cent, as polars DataFrames.

One call per command of the CLI, with keyword arguments named like its flags::

    import underwater
    run = underwater.run(loans="data/loans.csv", valuations="data/valuations.csv",
                         config="data/example.toml")
    run.accounts            # polars DataFrame, money as Decimal(38, 2): the cells of accounts.csv
    run.summary.portfolio   # summary.json, typed (Decimal, datetime.date)
    run.tables["summary_by_ltv_bucket"]
    run.write("out")        # the same atomic publish as `underwater run --out out`

The package calls the library the CLI calls: no figure is computed in Python. Errors are the classes
of :mod:`underwater.errors`, one per exit code of the CLI, with its message.
"""

from __future__ import annotations

from ._run import Backtest, Run, backtest, calibrate, generate, query, read_run, run
from .errors import (
    ConfigError,
    InputError,
    InternalError,
    OutputError,
    RejectRateError,
    StaleError,
    UnderwaterError,
)

__all__ = [
    "Backtest",
    "ConfigError",
    "InputError",
    "InternalError",
    "OutputError",
    "RejectRateError",
    "Run",
    "StaleError",
    "UnderwaterError",
    "backtest",
    "calibrate",
    "generate",
    "query",
    "read_run",
    "run",
]
