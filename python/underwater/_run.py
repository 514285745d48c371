"""The package's calls: keyword arguments into the CLI's flags, the native library called, its results
as polars DataFrames. Nothing here computes a figure."""

from __future__ import annotations

import datetime as _dt
import os
import pathlib
import tempfile
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

import polars as pl

from . import _native, summary as _summary
from .errors import ConfigError, InputError, refused


# Files of a run that are not tables: read as bytes, never as frames.
_NOT_TABLES = ("accounts.csv", "accounts.parquet", "summary.json", "report.html", "report.xlsx")


def _text(value: Any) -> str:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _flag(value: bool, name: str) -> bool:
    """A switch keyword: True or False only (``no_outlook=0`` or ``"no"`` is a mistake, not a value)."""
    if not isinstance(value, bool):
        raise refused(f"{name}= takes True or False, not {type(value).__name__} {value!r}", name)
    return value


def _dir_path(value: Any, name: str) -> "str | None":
    """A keyword that names a file or directory: a str or os.PathLike (a DataFrame is not a run)."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return None if value is None else os.fspath(value)
    raise refused(f"{name}= takes a path (str or os.PathLike), not {type(value).__name__}", name)


def _argv(flags: Mapping[str, Any]) -> list[str]:
    """Keyword arguments as the CLI's flags: ``as_of=...`` is ``--as-of ...``; True is a bare flag;
    None and False are left out."""
    argv: list[str] = []
    for name, value in flags.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(_text(v) for v in value)]
        else:
            argv += [flag, _text(value)]
    return argv


def _key_columns(config_text: "str | None") -> tuple[str, str]:
    """The loans' account-id and VIN columns as the library reads them: the config's ``[columns]``
    names, else ours. An unreadable config is left to the library, which names its fault."""
    import tomllib

    try:
        columns = tomllib.loads(config_text).get("columns", {}) if config_text else {}
    except tomllib.TOMLDecodeError:
        columns = {}
    if not isinstance(columns, dict):
        columns = {}
    pick = lambda ours: columns.get(ours) if isinstance(columns.get(ours), str) else ours  # noqa: E731
    return pick("account_id"), pick("vin")


def refuse_numeric_id(column: str, type_name: str, source: str) -> None:
    """A numeric account-id column has lost the file's text (``000123`` read as 123, ``1e3`` as 1000.0:
    two accounts become one), so it is refused rather than read."""
    error = InputError(
        f"{source}: the account id column `{column}` is {type_name}, so the file's text of each id is "
        f"lost (000123 and 123 become one id). Fix: read the ids as text (polars: "
        f"schema_overrides={{'{column}': pl.String}}; Spark: spark.read.csv(path, header=True) without "
        f"inferSchema, or underwater.spark.run_csv), or pass the file's path")
    error.field = column
    raise error


def _frame(frames: Any) -> pl.DataFrame:
    """A native stream of frames as one polars DataFrame (the Arrow C stream interface, no copy)."""
    return pl.DataFrame(frames)


class _Inputs:
    """Paths for the loans and valuations: a path as it is; a DataFrame (polars, or anything with
    ``__arrow_c_stream__``) handed to the library in memory where the command takes frames (``run``),
    else written as CSV to a temporary directory that lives as long as the call. Rejects of a frame
    name it (``loans``) and its row's index (0 for the first row); of a written CSV, that file and its
    line (row n is line n + 2)."""

    def __init__(self, in_memory: bool = False) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._in_memory = in_memory
        self.frames: list[tuple[str, Any]] = []

    def __enter__(self) -> "_Inputs":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            self._dir.cleanup()

    def path(self, value: Any, name: str, id_column: "str | None" = None) -> str | None:
        if value is None:
            return None
        if isinstance(value, (str, os.PathLike)):
            return os.fspath(value)
        frame = value.collect() if isinstance(value, pl.LazyFrame) else value
        if not isinstance(frame, pl.DataFrame):
            if not hasattr(frame, "__arrow_c_stream__"):
                raise refused(
                    f"{name}= takes a path (str or os.PathLike) or a DataFrame (polars, or any with "
                    f"__arrow_c_stream__), not {type(value).__name__}", name)
            frame = pl.DataFrame(frame)
        dtype = frame.schema.get(id_column) if id_column else None
        if dtype is not None and dtype.is_numeric():
            refuse_numeric_id(id_column, str(dtype), f"{name}=")
        if self._in_memory:
            self.frames.append((name, frame))
            return name
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="underwater-")
        path = pathlib.Path(self._dir.name) / f"{name}.csv"
        frame.write_csv(path)
        return str(path)


class Run:
    """A run's results: ``accounts`` (the per-account figures), ``summary`` (summary.json typed),
    ``tables`` (every summary table by name, e.g. ``summary_by_ltv_bucket``), ``rejects`` (rejects.csv)
    and ``files`` (every output's bytes, reports included).

    ``accounts`` is built on first use (about as long as writing accounts.parquet: a second on a
    1M-loan book), so a run read for its summary and tables does not pay for it."""

    def __init__(self, accounts: Callable[[], pl.DataFrame], files: Mapping[str, bytes],
                 native: Any = None):
        self._load_accounts: Callable[[], pl.DataFrame] | None = accounts
        self._accounts: pl.DataFrame | None = None
        self.files = dict(files)
        self.summary = _summary.parse(self.files["summary.json"])
        self.rejects = _table(self.files["rejects.csv"], "rejects.csv")
        self.tables = _tables(self.files)
        self._native = native

    @property
    def accounts(self) -> pl.DataFrame:
        """The per-account figures: the columns and cells of accounts.csv, money as Decimal(38, 2)."""
        if self._accounts is None:
            assert self._load_accounts is not None
            self._accounts, self._load_accounts = self._load_accounts(), None
        return self._accounts

    def write(self, out: "str | os.PathLike[str] | None" = None, format: str | None = None) -> None:
        """Publishes the run to ``out`` (the ``out`` given to :func:`run` when None) exactly as
        ``underwater run --out`` does: atomically, refusing an unsafe target; ``format`` is "csv" or
        "parquet" for the per-account file."""
        if self._native is None:
            raise ConfigError("this run was read from a directory: it is published already")
        self._native.write(None if out is None else os.fspath(out), format)

    def __repr__(self) -> str:
        p = self.summary.portfolio
        return (
            f"<underwater.Run as_of={self.summary.manifest.as_of} accounts={p.accounts} "
            f"negative_equity={p.negative_equity} expected_deficiency={p.expected_deficiency}>"
        )


def _table(data: bytes, name: str) -> pl.DataFrame:
    return _frame(_native.read_table(data, name))


def _tables(files: Mapping[str, bytes]) -> dict[str, pl.DataFrame]:
    """Every summary table among a run's files, by name without ``.csv``."""
    return {name.removesuffix(".csv"): _table(data, name) for name, data in files.items()
            if name.endswith(".csv") and name.startswith("summary_")}


def run(
    loans: Any = None,
    valuations: Any = None,
    *,
    as_of: "str | _dt.date | None" = None,
    config: Any = None,
    tape: str | None = None,
    previous: Any = None,
    out: Any = None,
    format: str | None = None,
    threads: int | None = None,
    max_reject_rate: "Decimal | float | str | None" = None,
    fail_on_stale: int | None = None,
    no_outlook: bool = False,
    no_lifetime: bool = False,
    progress: bool = False,
) -> Run:
    """``underwater run``: the book computed, returned as DataFrames, and published to ``out`` when
    given (else nothing is written). ``loans`` and ``valuations`` are paths or DataFrames; with
    ``tape="regab"``, ``loans`` is an SEC EX-102 loan tape. A failed guard rail raises
    :class:`RejectRateError` or :class:`StaleError` (with ``out``, after writing ``<out>.failed``)."""
    if loans is None:
        raise refused("run() needs loans: a path or a DataFrame", "loans")
    # A tape's period is read from its file before the run: a tape frame goes through a file.
    with _Inputs(in_memory=tape is None) as inputs:
        config_path = _dir_path(config, "config")
        config_text = pathlib.Path(config_path).read_text(encoding="utf-8", errors="replace") \
            if config_path and os.path.isfile(config_path) else None
        flags = {
            "loans": inputs.path(loans, "loans", None if tape else _key_columns(config_text)[0]),
            "valuations": inputs.path(valuations, "valuations"),
            "tape": tape,
            "as_of": as_of,
            "config": config_path,
            "previous": _dir_path(previous, "previous"),
            # The run is computed first and published by `write`: `--out` is only where it goes.
            "out": _dir_path(out, "out") or "underwater-out",
            "format": format,
            "threads": threads,
            "max_reject_rate": max_reject_rate,
            "fail_on_stale": fail_on_stale,
            "no_outlook": _flag(no_outlook, "no_outlook"),
            "no_lifetime": _flag(no_lifetime, "no_lifetime"),
            "quiet": not _flag(progress, "progress"),
        }
        native = _native.run(_argv(flags), progress, inputs.frames)
    if out is not None:
        native.write(None, None)
    else:
        native.check()
    return Run(lambda: _frame(native.accounts()), dict(native.files()), native)


def read_run(dir: "str | os.PathLike[str]") -> Run:
    """A finished run's directory read back (accounts.csv or accounts.parquet, the tables,
    summary.json, rejects.csv): the same cells the run wrote, nothing recomputed."""
    path = pathlib.Path(dir)
    # Read now: a directory is not a snapshot, and the run must be the one whose files are read.
    accounts = _frame(_native.read_accounts(os.fspath(path)))
    files = {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()
             and not p.name.startswith(".") and p.name not in ("accounts.csv", "accounts.parquet")}
    return Run(lambda: accounts, files)


def query(
    sql: str | None = None,
    *,
    runs: "Iterable[str | os.PathLike[str]] | str | os.PathLike[str] | None" = None,
    by: "str | list[str] | None" = None,
    where: str | None = None,
    top: int | None = None,
    order_by: str | None = None,
    loans: Any = None,
    valuations: Any = None,
    as_of: "str | _dt.date | None" = None,
    config: Any = None,
    tape: str | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> pl.DataFrame:
    """``underwater query``: SQL (or the ``by``/``where``/``top`` shorthands) over finished runs
    (``runs``: directories or patterns like ``nightly/*``) or raw inputs; the answer as a DataFrame,
    money as exact decimals."""
    if isinstance(runs, (str, os.PathLike)):
        runs = [runs]
    with _Inputs() as inputs:
        argv = [sql] if sql is not None else []
        for run_dir in runs or []:
            argv += ["--run", os.fspath(run_dir)]
        argv += _argv({
            "by": by, "where": where, "top": top, "order_by": order_by,
            "loans": inputs.path(loans, "loans"), "valuations": inputs.path(valuations, "valuations"),
            "as_of": as_of, "config": _dir_path(config, "config"), "tape": tape, "threads": threads,
            "quiet": not _flag(progress, "progress"),
        })
        return _frame(_native.query(argv, progress))


class Backtest:
    """A backtest's results: ``accounts`` (backtest.csv), ``summary`` (summary.json typed), ``tables``
    (``summary_backtest_by_pd`` and the others), ``rejects`` (outcome_rejects.csv) and ``files``."""

    def __init__(self, dir: pathlib.Path):
        self.files = {p.name: p.read_bytes() for p in sorted(dir.iterdir()) if p.is_file()}
        self.accounts = _table(self.files["backtest.csv"], "backtest.csv")
        self.summary = _summary.parse(self.files["summary.json"])
        self.rejects = _table(self.files["outcome_rejects.csv"], "outcome_rejects.csv")
        self.tables = _tables(self.files)


def _history_flags(inputs: _Inputs, loans: Any, valuations: Any, outcomes: Any,
                   **rest: Any) -> dict[str, Any]:
    """The flags backtest and calibrate share: the book and what happened to it."""
    for name in ("run", "config", "out"):
        if name in rest:
            rest[name] = _dir_path(rest[name], name)
    return {"loans": inputs.path(loans, "loans"), "valuations": inputs.path(valuations, "valuations"),
            "outcomes": inputs.path(outcomes, "outcomes"), **rest}


def _in_dir(out: Any, command: str, flags: dict[str, Any]) -> pathlib.Path:
    """Runs a command that writes a directory, into ``out``."""
    _native.execute(command, _argv({**flags, "out": out, "quiet": True}))
    return pathlib.Path(out)


def backtest(
    loans: Any = None,
    valuations: Any = None,
    *,
    run: "str | os.PathLike[str] | None" = None,
    outcomes: Any = None,
    horizon: int | None = None,
    start_month: int | None = None,
    tape: str | None = None,
    as_of: "str | _dt.date | None" = None,
    config: Any = None,
    no_lifetime: bool = False,
    out: Any = None,
    threads: int | None = None,
) -> Backtest:
    """``underwater backtest``: the book's figures against what happened (``outcomes``: loan-month
    records; with ``tape="regab"`` a panel tape carries its own). ``run``: a finished run's directory as
    the book (its inputs, config and as_of, checked to give its figures). Published to ``out`` when
    given. ``start_month``: the book re-anchored that many months after the data's start."""
    with _Inputs() as inputs, tempfile.TemporaryDirectory(prefix="underwater-bt-") as tmp:
        flags = _history_flags(inputs, loans, valuations, outcomes, run=run, horizon=horizon,
                               start_month=start_month, tape=tape, as_of=as_of, config=config,
                               threads=threads, out=out,
                               no_lifetime=_flag(no_lifetime, "no_lifetime"))
        dir = _in_dir(flags.pop("out") or pathlib.Path(tmp) / "backtest", "backtest", flags)
        return Backtest(dir)


def calibrate(
    loans: Any = None,
    valuations: Any = None,
    *,
    run: "str | os.PathLike[str] | None" = None,
    outcomes: Any = None,
    horizon: int | None = None,
    start_month: int | None = None,
    tape: str | None = None,
    as_of: "str | _dt.date | None" = None,
    config: Any = None,
    min_accounts: int | None = None,
    recovery_months: int | None = None,
    no_lifetime: bool = False,
    out: Any = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """``underwater calibrate``: ``{"toml": calibrated.toml's text, "calibration": calibration.json
    typed}``; ``run`` as in :func:`backtest`; published to ``out`` when given (calibrated.toml is what ``run(config=...)`` takes)."""
    with _Inputs() as inputs, tempfile.TemporaryDirectory(prefix="underwater-cal-") as tmp:
        flags = _history_flags(inputs, loans, valuations, outcomes, run=run, horizon=horizon,
                               start_month=start_month, tape=tape, as_of=as_of, config=config,
                               min_accounts=min_accounts, recovery_months=recovery_months,
                               threads=threads, out=out, no_lifetime=_flag(no_lifetime, "no_lifetime"))
        dir = _in_dir(flags.pop("out") or pathlib.Path(tmp) / "calibration", "calibrate", flags)
        return {
            "toml": (dir / "calibrated.toml").read_text(),
            "calibration": _summary.parse((dir / "calibration.json").read_bytes()),
        }


def generate(
    out: "str | os.PathLike[str]",
    loans: int,
    *,
    seed: int | None = None,
    as_of: "str | _dt.date | None" = None,
    valuations_per_loan: int | None = None,
    dirty: bool = False,
    months_later: int | None = None,
    outcome_months: int | None = None,
    parts: int | None = None,
    threads: int | None = None,
) -> pathlib.Path:
    """``underwater generate``: a deterministic synthetic book (loans.csv, valuations.csv, ...) in
    ``out``, with ``parts`` also as Parquet parts by VIN hash in ``out/parts``; returns ``out``."""
    if isinstance(loans, bool) or not isinstance(loans, int):
        raise refused(f"loans= takes a whole number of loans, not {type(loans).__name__}", "loans")
    flags = {"loans": loans, "seed": seed, "as_of": as_of, "valuations_per_loan": valuations_per_loan,
             "dirty": _flag(dirty, "dirty"), "months_later": months_later,
             "outcome_months": outcome_months, "parts": parts, "threads": threads}
    return _in_dir(_dir_path(out, "out"), "generate", flags)
