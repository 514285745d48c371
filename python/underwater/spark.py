"""underwater on a Spark cluster: the run's kernel inside the executors, the same cells as the CLI.

Spark only moves rows: each loan goes to the partition of its VIN's valuations (the repartition is the one
shuffle), every row of a repeated ``account_id`` to one partition (so the library rejects all of them, as
the CLI does), and each partition runs the library on its rows through ``mapInArrow``. A partition
returns its accounts, its rejects and its summary tables' *partial*: exact integer tallies, the counts of
its origination LTVs and its largest exposures, which the library folds on the driver into the whole
book's tables, percentiles and top exposures. No decimal multiply or divide happens in Spark.

Needs ``pyspark`` and ``pyarrow`` (``pip install ./python[spark]``), and the package installed where the
executors' Python runs.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterator

import polars as pl

from . import _native
from . import summary as _summary
from ._run import _argv, _key_columns, _table, _tables, refuse_numeric_id
from .errors import ConfigError

LINE = "_underwater_line"
KIND = "_underwater_kind"
BLOB = "_underwater_blob"
PREFIX = "_valuation_"
REJECT_COLUMNS = ["input", "line", "field", "reason", "raw_record"]


class SparkRun:
    """``accounts`` (a Spark DataFrame: the accounts.csv columns, money ``DECIMAL(38, 2)``), ``tables``
    (every summary table, as polars DataFrames: the CLI's files, folded from the partitions),
    ``rejects`` (a Spark DataFrame: input, field, reason, raw_record) and ``summary`` (summary.json's
    ``portfolio``, with the origination-LTV percentiles, and ``top_exposures``, of the whole book, typed;
    ``summary_json`` their JSON bytes; ``plan`` Spark's physical plan of the run, where a shuffle shows
    as an ``Exchange``).
    Unpacks as ``accounts, tables = underwater.spark.run(...)``."""

    def __init__(self, accounts: Any, tables: dict[str, pl.DataFrame], files: dict[str, bytes],
                 rejects: Any, summary_json: bytes, plan: str):
        self.accounts, self.tables, self.files, self.rejects = accounts, tables, files, rejects
        self.summary_json = summary_json
        self.plan = plan
        self.summary = _summary.parse(summary_json)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.accounts, self.tables))


def run(spark: Any, loans: Any, valuations: Any, *, as_of: str, config: str | None = None,
        no_outlook: bool = False, partitions: int | None = None, accounts_dir: str | None = None,
        _files: tuple[str, str] | None = None) -> SparkRun:
    """The nightly run over Spark DataFrames (``spark.read.csv(..., header=True)`` keeps every cell's text,
    the surest way to the CLI's figures; typed columns, as Parquet or a table gives them, work too).
    ``as_of`` is required: every executor must value the book at one date. ``config`` is a TOML file
    read on the driver and sent to the executors. ``accounts_dir``: a directory the executors and the
    driver share (a local cluster's disk, a mounted store such as ``/dbfs/...``), where each partition
    writes its accounts as a Parquet part; ``accounts`` then reads them, and they do not pass through
    Spark's rows."""
    from pyspark.sql import functions as F
    from pyspark import StorageLevel

    config_text = open(config, encoding="utf-8").read() if config else None
    flags = {"as_of": as_of, "no_outlook": no_outlook, "threads": 1, "quiet": True}
    loan_columns = [c for c in loans.columns if c != LINE]
    val_columns = [c for c in valuations.columns if c != LINE]
    # Where the rows came from (`run_csv`): rejects name the file and its line.
    names = tuple(os.path.basename(f) for f in _files) if _files else ("loans", "valuations")
    dry = _dry_run(loan_columns, val_columns, flags, config_text)
    schema, computed, echoed = _output_schema(dry, loans.schema)
    id_column, vin_column = _key_columns(config_text)
    _refuse_numeric_ids(loans, id_column)
    # A DataFrame's row is named in a reject by Spark's own row id (its partition and place in it).
    loans, valuations = (frame if LINE in frame.columns
                         else frame.withColumn(LINE, F.monotonically_increasing_id())
                         for frame in (loans, valuations))
    if accounts_dir is not None:
        _new_accounts_dir(accounts_dir)
    n = partitions or max(2, spark.sparkContext.defaultParallelism * 2)
    slots = _slots(loans.schema, valuations.schema)
    kernel = _kernel((loan_columns, val_columns, slots), flags, config_text, schema, names,
                     (id_column, accounts_dir, computed + echoed))
    keys = (id_column, vin_column, slots["vin"])

    def one_pass(repeated: Any) -> tuple[Any, list[Any]]:
        combined = _co_located(loans, valuations.select(
            *[F.col(c).alias(slots[c]) for c in valuations.columns]), keys, F, repeated)
        out = combined.repartition(n, "_underwater_key").mapInArrow(kernel, schema)
        if accounts_dir is not None:
            # Only tallies, hashes and rejects come back: collected whole, the kernel run once (a
            # cached plan would skip the writing of the parts on a later run of the same inputs).
            return out, out.collect()
        out = out.persist(StorageLevel.MEMORY_AND_DISK)
        return out, out.where(F.col(KIND).isin("p", "h")).select(*schema.names).collect()

    # Keyed by VIN alone first: a book whose ids each sit in one partition (a clean book) is done in
    # one pass. An id seen in two partitions (its rows have different VINs) is a repeated id the CLI
    # rejects on every row: the book is then keyed again, those ids' rows sent to one partition.
    out, collected = one_pass(None)
    if _ids_in_two_partitions([bytes(r[BLOB]) for r in collected if r[KIND] == "h"]):
        if accounts_dir is None:
            out.unpersist()
        out, collected = one_pass(_repeated_ids(loans, id_column, F))
    plan = out._jdf.queryExecution().executedPlan().toString()
    folded, whole = _native.fold([bytes(r[BLOB]) for r in collected if r[KIND] == "p"], as_of)
    files = dict(folded)
    if accounts_dir is None:
        accounts = out.where(F.col(KIND) == "a").select(*computed, *echoed)
        rejects = out.where(F.col(KIND) == "r").select(*REJECT_COLUMNS)
    else:
        accounts = spark.read.schema(_accounts_schema(schema, computed + echoed)).parquet(accounts_dir)
        rejects = spark.createDataFrame([[r[c] for c in REJECT_COLUMNS] for r in collected
                                         if r[KIND] == "r"], _accounts_schema(schema, REJECT_COLUMNS))
    return SparkRun(accounts, _tables(files), files, rejects, whole, plan)


def _ids_in_two_partitions(hashes: list[bytes]) -> bool:
    """Whether a hash of a trimmed id (each partition's, each once) comes from two partitions."""
    import array

    parts = [array.array("Q", h) for h in hashes if h]
    if len(parts) < 2:
        return False
    every = pl.Series(values=[x for part in parts for x in part], dtype=pl.UInt64)
    return every.n_unique() < every.len()


def _repeated_ids(loans: Any, id_column: str, F: Any) -> Any:
    """The trimmed ids on more than one row (a count of the ids: one pass over the loans)."""
    trimmed = F.trim(F.col(id_column), F.lit(_TRIM))
    return (loans.select(trimmed.alias("_underwater_id")).groupBy("_underwater_id").count()
            .where("count > 1").select("_underwater_id", F.lit(True).alias("_underwater_dup")))


def _accounts_schema(schema: Any, columns: list[str]) -> Any:
    """Some columns of the kernel's output schema (the accounts', the rejects')."""
    from pyspark.sql import types as T

    return T.StructType([schema[c] for c in columns])


def run_csv(spark: Any, loans: str, valuations: str, *, as_of: str, config: str | None = None,
            no_outlook: bool = False, partitions: int | None = None) -> SparkRun:
    """The nightly run over two CSV files as the CLI reads them, split by Spark: each record keeps its
    file line, so a reject names the file and line as the CLI's rejects.csv does. A record must be one
    line (a quoted field with a line break is rejected, as one that spans lines cannot be split apart
    from its file); a line with the wrong number of fields is rejected as the CLI rejects it."""
    loans_df, loans_bad = _csv_lines(spark, loans)
    valuations_df, valuations_bad = _csv_lines(spark, valuations)
    result = run(spark, loans_df, valuations_df, as_of=as_of, config=config, no_outlook=no_outlook,
                 partitions=partitions, _files=(loans, valuations))
    result.rejects = loans_bad.unionByName(valuations_bad).unionByName(result.rejects)
    return result


def _csv_lines(spark: Any, path: str) -> tuple[Any, Any]:
    """A CSV file as a DataFrame of text columns with each record's line, and the lines that are not
    records of the header's width (as rejects)."""
    import csv as _csv
    from pyspark.sql import types as T

    lines = spark.sparkContext.textFile(path).zipWithIndex()
    header = next(_csv.reader([lines.first()[0].lstrip("\ufeff")]))
    width = len(header)

    def parse(item: tuple[str, int]) -> tuple[Any, ...]:
        text, index = item
        fields = next(_csv.reader([text]), [])
        if len(fields) != width:
            return (False, index + 1, text, len(fields))
        return (True, index + 1, text, fields)

    parsed = lines.filter(lambda item: item[1] > 0).map(parse)
    good = parsed.filter(lambda r: r[0]).map(lambda r: tuple(r[3]) + (r[1],))
    schema = T.StructType([T.StructField(c, T.StringType(), True) for c in header]
                          + [T.StructField(LINE, T.LongType(), False)])
    frame = spark.createDataFrame(good, schema)
    name = os.path.basename(path)
    bad = parsed.filter(lambda r: not r[0]).map(lambda r: (
        name, r[1], None, f"expected {width} fields as in the header, found {r[3]}", r[2]))
    bad_schema = T.StructType([T.StructField(c, T.LongType() if c == "line" else T.StringType(), True)
                               for c in REJECT_COLUMNS])
    return frame, spark.createDataFrame(bad, bad_schema)


def run_parts(spark: Any, loans_dir: str, valuations_dir: str, *, as_of: str,
              config: str | None = None, no_outlook: bool = False,
              accounts_dir: str | None = None) -> SparkRun:
    """The nightly run over a book laid out in Parquet parts by VIN hash (``generate --parts``; the
    guide says how to lay a book out so): ``loans_dir/part-*.parquet`` and
    ``valuations_dir/part-*.parquet``, part *i* of both holding the same VINs. Each task reads its pair
    of parts where it runs (the directories must be readable by every executor, as ``accounts_dir``)
    and runs the library on it: the book is not shuffled. A reject names its part file and the row's
    index in it. Repeated ids are found first by a count of the loans' id column alone (Parquet reads
    that one column; only the ids are shuffled); a book with one goes through `run`, whose shuffle puts
    every row of a repeated id together, as the CLI rejects them."""
    import glob

    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    loan_parts = sorted(glob.glob(os.path.join(loans_dir, "part-*.parquet")))
    val_parts = [os.path.join(valuations_dir, os.path.basename(p)) for p in loan_parts]
    missing = [p for p in val_parts if not os.path.exists(p)]
    if not loan_parts or missing:
        raise ConfigError(f"{loans_dir} and {valuations_dir} are not a book in parts: "
                          f"{'no part-*.parquet' if not loan_parts else 'no ' + missing[0]}. Fix: "
                          f"lay out part i of both by the same VIN hash (underwater generate --parts)")
    config_text = open(config, encoding="utf-8").read() if config else None
    flags = {"as_of": as_of, "no_outlook": no_outlook, "threads": 1, "quiet": True}
    loans_schema = spark.read.parquet(loan_parts[0]).schema
    val_columns = spark.read.parquet(val_parts[0]).columns
    dry = _dry_run(loans_schema.names, val_columns, flags, config_text)
    schema, computed, echoed = _output_schema(dry, loans_schema)
    id_column, _ = _key_columns(config_text)
    loans = spark.read.parquet(*loan_parts)
    _refuse_numeric_ids(loans, id_column)
    if _repeated_ids(loans, id_column, F).limit(1).count():
        return run(spark, loans, spark.read.parquet(*val_parts), as_of=as_of, config=config,
                   no_outlook=no_outlook, partitions=len(loan_parts), accounts_dir=accounts_dir)
    if accounts_dir is not None:
        _new_accounts_dir(accounts_dir)
    pairs = spark.createDataFrame(
        spark.sparkContext.parallelize(list(zip(loan_parts, val_parts)), len(loan_parts)),
        "loans string, valuations string")
    kernel = _parts_kernel(flags, config_text, schema, (id_column, accounts_dir, computed + echoed))
    out = pairs.mapInArrow(kernel, schema)
    if accounts_dir is None:
        out = out.persist(StorageLevel.MEMORY_AND_DISK)
    collected = out.where(f"{KIND} NOT IN ('a', 'h')").collect()
    plan = out._jdf.queryExecution().executedPlan().toString()
    folded, whole = _native.fold([bytes(r[BLOB]) for r in collected if r[KIND] == "p"], as_of)
    files = dict(folded)
    if accounts_dir is None:
        accounts = out.where(f"{KIND} = 'a'").select(*computed, *echoed)
    else:
        accounts = spark.read.schema(_accounts_schema(schema, computed + echoed)).parquet(accounts_dir)
    rejects = spark.createDataFrame([[r[c] for c in REJECT_COLUMNS] for r in collected
                                     if r[KIND] == "r"], _accounts_schema(schema, REJECT_COLUMNS))
    return SparkRun(accounts, _tables(files), files, rejects, whole, plan)


def _parts_kernel(flags: dict[str, Any], config_text: str | None, schema: Any,
                  accounts: tuple[str, str | None, list[str]]) -> Any:
    """The function each task of `run_parts` runs: for each pair of part files it is given, the
    library reads both and runs on them; out as `_kernel`'s (no id hashes: `run_parts` counts the
    ids before)."""

    def kernel(batches: Iterator[Any]) -> Iterator[Any]:
        from pyspark.sql.pandas.types import to_arrow_schema

        target = to_arrow_schema(schema)
        for batch in batches:
            for loans, valuations in zip(*(batch.column(i).to_pylist() for i in range(2))):
                native = _native_run_files((loans, valuations), flags, config_text)
                yield from _emit(native, b"", target, accounts)

    return kernel


def _native_run_files(paths: tuple[str, str], flags: dict[str, Any], config_text: str | None) -> Any:
    """The library on a pair of input files (it reads Parquet itself)."""
    with tempfile.TemporaryDirectory(prefix="underwater-spark-") as dir:
        return _native.run(_config_argv(dir, flags, config_text, paths), False)


def _new_accounts_dir(dir: str) -> None:
    """Creates the accounts directory, refusing one that holds anything (a run writes a whole book of
    parts there)."""
    os.makedirs(dir, exist_ok=True)
    if any(os.scandir(dir)):
        raise ConfigError(f"accounts_dir {dir} is not empty: the run writes a whole book of parts there. "
                          f"Fix: name a new or empty directory")


def _refuse_numeric_ids(loans: Any, id_column: str) -> None:
    """A numeric id column (``inferSchema=True`` reads ``000123`` as 123) is refused, naming the fix."""
    from pyspark.sql import types as T

    for field in loans.schema.fields:
        if field.name.lower() == id_column.lower() and isinstance(field.dataType, T.NumericType):
            refuse_numeric_id(field.name, field.dataType.simpleString(), "loans DataFrame")


# What the library trims from an id or a VIN: spaces and tabs, not Java's `\s` (form feed, CR, vertical
# tab), so `A1` and `A1\f` stay two accounts here as in the CLI.
_TRIM = " \t"


def _slots(loan_schema: Any, valuation_schema: Any) -> dict[str, str]:
    """Where each valuation column travels in the rows shared with the loans: in a loan column of the
    same type (a CSV read as text shares them all), else in its own. A valuation row then carries
    few empty loan cells, and the shuffle and the Arrow batches are narrower."""
    free = [f for f in loan_schema.fields if f.name != LINE]
    slots = {LINE: LINE}
    for field in valuation_schema.fields:
        if field.name == LINE:
            continue
        match = next((f for f in free if f.dataType == field.dataType), None)
        if match is not None:
            free.remove(match)
        slots[field.name] = match.name if match is not None else PREFIX + field.name
    return slots


def _co_located(loans: Any, valuations: Any, columns: tuple[str, str], F: Any,
                repeated: Any = None) -> Any:
    """Loans and valuations (in their slots: see `_slots`) in one frame, keyed for the repartition:
    a valuation by its VIN as the library matches it (trimmed, upper case); a loan by its VIN, or by
    its account id when that id is among ``repeated`` (trimmed, as the library compares ids).
    ``columns`` are the loans' id and VIN columns (a ``[columns]`` config renames them) and the
    valuations' VIN column."""
    id_column, vin_column, valuation_vin = columns

    def vin_key(c: Any) -> Any:
        return F.concat(F.lit("vin:"), F.upper(F.trim(c, F.lit(_TRIM))))

    if repeated is None:
        loans = loans.withColumn("_underwater_key", vin_key(F.col(vin_column)))
    else:
        # Repeated ids are few (a data-quality fault): sent to every executor, so the loans are not
        # shuffled for the join as well as for the repartition.
        trimmed = F.trim(F.col(id_column), F.lit(_TRIM))
        loans = loans.withColumn("_underwater_id", trimmed).join(F.broadcast(repeated),
                                                                 "_underwater_id", "left")
        loans = loans.withColumn(
            "_underwater_key",
            F.when(F.col("_underwater_dup"), F.concat(F.lit("id:"), F.col("_underwater_id")))
            .otherwise(vin_key(F.col(vin_column))),
        ).drop("_underwater_id", "_underwater_dup")
    valuations = valuations.withColumn("_underwater_key", vin_key(F.col(valuation_vin)))
    valuations = valuations.withColumn(KIND, F.lit("V"))
    return loans.withColumn(KIND, F.lit("L")).unionByName(valuations, allowMissingColumns=True)


def _config_argv(dir: str, flags: dict[str, Any], config_text: str | None,
                 names: tuple[str, str]) -> list[str]:
    """The flags of a partition's run: the inputs named as rejects name them (their rows are handed
    over as frames), and the config written where the library reads it."""
    argv = ["--loans", names[0], "--valuations", names[1], "--out", f"{dir}/out"]
    if config_text is not None:
        with open(f"{dir}/config.toml", "w", encoding="utf-8") as f:
            f.write(config_text)
        argv += ["--config", f"{dir}/config.toml"]
    return argv + _argv(flags)


def _native_run(frames: tuple[pl.DataFrame, pl.DataFrame], flags: dict[str, Any],
                config_text: str | None, names: tuple[str, str]) -> Any:
    """The library on a partition's loans and valuations, handed over as Arrow (no file written but
    the config's). The kernel reads no manifest, so the frames' sha256 is not computed."""
    with tempfile.TemporaryDirectory(prefix="underwater-spark-") as dir:
        return _native.run(_config_argv(dir, flags, config_text, names), False,
                           [("loans", frames[0]), ("valuations", frames[1])], digest=False)


def _dry_run(loan_columns: list[str], val_columns: list[str], flags: dict[str, Any],
             config_text: str | None) -> Any:
    """The library on an empty book with the same columns: the accounts' schema and columns."""
    empty = lambda cols: pl.DataFrame(schema={c: pl.String for c in cols})  # noqa: E731
    return _native_run((empty(loan_columns), empty(val_columns)), flags, config_text,
                       ("loans", "valuations"))


def _output_schema(dry: Any, loan_schema: Any) -> tuple[Any, list[str], list[str]]:
    """The kernel's output: the computed columns (their types from the dry run; unsigned integers as
    Spark's long), the loan's own columns as the library echoes them (cast to the type Spark gave the
    input column: text for a CSV read as text), and the columns of the rejects and partials."""
    import pyarrow as pa
    from pyspark.sql import types as T
    from pyspark.sql.pandas.types import from_arrow_type

    frame = pl.DataFrame(dry.accounts())
    echoed = list(dry.loan_columns())
    computed = [c for c in frame.columns if c not in dry.loan_columns()]
    fields = []
    for name in computed:
        arrow = frame[name].to_arrow().type
        if pa.types.is_unsigned_integer(arrow):
            arrow = pa.int64()
        if pa.types.is_large_string(arrow) or pa.types.is_string_view(arrow):
            arrow = pa.string()
        fields.append(T.StructField(name, from_arrow_type(arrow), True))
    fields += [T.StructField(c, loan_schema[c].dataType, True) for c in echoed]
    fields += [T.StructField(KIND, T.StringType(), False), T.StructField(BLOB, T.BinaryType(), True)]
    fields += [T.StructField(c, T.LongType() if c == "line" else T.StringType(), True)
               for c in REJECT_COLUMNS]
    return T.StructType(fields), computed, echoed


def _kernel(columns: tuple[list[str], list[str], dict[str, str]], flags: dict[str, Any],
            config_text: str | None, schema: Any, names: tuple[str, str],
            accounts: tuple[str, str | None, list[str]]) -> Any:
    """The function each partition runs: its rows into the library as Arrow; out, cast to the declared
    schema, its accounts (or, with an accounts directory, a Parquet part written there), its rejects,
    its partial and the hashes of its trimmed ids. ``columns``: the loans', the valuations' and the
    valuations' slots; ``accounts``: the id column, the directory, the accounts' columns."""
    id_column, accounts_dir, account_columns = accounts

    def kernel(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        target = to_arrow_schema(schema)
        batches = list(batches)
        # An empty partition has no batch to take a schema from.
        rows = pl.from_arrow(pa.Table.from_batches(batches)) if batches else pl.DataFrame()
        assert isinstance(rows, pl.DataFrame)
        loans, valuations = _split(rows, columns)
        native = _native_run((loans, valuations), flags, config_text, names)
        yield from _emit(native, _id_hashes(loans, id_column), target, accounts)

    return kernel


def _emit(native: Any, hashes: bytes, target: Any,
          accounts: tuple[str, str | None, list[str]]) -> Iterator[Any]:
    """A partition's output rows, as Arrow batches of the declared schema: its accounts (or, with an
    accounts directory, none: a Parquet part written there), its partial, its id hashes, its
    rejects."""
    _, accounts_dir, account_columns = accounts
    frame = pl.DataFrame(native.accounts()).with_columns(pl.lit("a").alias(KIND))
    if accounts_dir is not None:
        _write_part(frame.select(account_columns), target, accounts_dir)
        frame = frame.clear()
    parts = [frame,
             pl.DataFrame({KIND: ["p", "h"], BLOB: [native.partial(), hashes]}),
             _rejects(native.rejects_csv()).with_columns(pl.lit("r").alias(KIND))]
    yield from _cast(pl.concat(parts, how="diagonal_relaxed"), target).to_batches()


def _cast(frame: pl.DataFrame, target: Any) -> Any:
    """A frame as an Arrow table of the target schema (its missing columns null)."""
    import pyarrow as pa

    table = frame.to_arrow()
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names
               else pa.nulls(table.num_rows, f.type) for f in target]
    return pa.Table.from_arrays(columns, schema=target)


def _write_part(accounts: pl.DataFrame, target: Any, dir: str) -> None:
    """A partition's accounts as a Parquet part of the declared types (polars writes it: faster than
    through pyarrow), named by the partition (a retried task writes the same part again) and renamed
    into place once whole."""
    from pyspark import TaskContext

    types = {f.name: _polars_type(f.type) for f in target if f.name in accounts.columns}
    context = TaskContext.get()
    name = f"part-{context.partitionId() if context else 0:05d}.parquet"
    temporary = os.path.join(dir, f".{name}.{os.getpid()}")
    accounts.cast(types).write_parquet(temporary, compression="lz4")
    os.replace(temporary, os.path.join(dir, name))


def _polars_type(arrow: Any) -> Any:
    """The polars type that writes as the given Arrow type does in Parquet."""
    import pyarrow as pa

    if pa.types.is_decimal(arrow):
        return pl.Decimal(arrow.precision, arrow.scale)
    return pl.from_arrow(pa.array([], type=arrow)).dtype


def _id_hashes(loans: pl.DataFrame, id_column: str) -> bytes:
    """The partition's trimmed, non-empty ids hashed, each once (little-endian u64s)."""
    column = next((c for c in loans.columns if c.lower() == id_column.lower()), None)
    if column is None or loans.is_empty():
        return b""
    ids = loans[column].cast(pl.String).str.strip_chars(_TRIM)
    import array

    return array.array("Q", ids.filter(ids.str.len_bytes() > 0).hash().unique().to_list()).tobytes()


def _split(rows: pl.DataFrame,
           columns: tuple[list[str], list[str], dict[str, str]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A partition's rows back into loans and valuations (from their slots), each column as Spark
    typed it, with each row's line (its file's with `run_csv`, Spark's row id for a DataFrame's row)."""
    loan_columns, val_columns, slots = columns

    def part(kind: str, names: list[str], slot: Any) -> pl.DataFrame:
        if rows.is_empty() or KIND not in rows.columns:
            return pl.DataFrame(schema={c: pl.String for c in names})
        picked = rows.filter(pl.col(KIND) == kind)
        return picked.select(pl.col(slot(c)).alias(c) for c in names + [LINE])

    return part("L", loan_columns, lambda c: c), part("V", val_columns, lambda c: slots[c])


def _rejects(data: bytes) -> pl.DataFrame:
    """A partition's rejects: the input (its file's name with `run_csv`, else `loans` or
    `valuations`), the row's line (its file's, or Spark's row id), the field, the reason and the raw
    record, as rejects.csv has them."""
    rejects = _table(data, "rejects.csv")
    if rejects.is_empty():
        return pl.DataFrame(schema={c: (pl.Int64 if c == "line" else pl.String) for c in REJECT_COLUMNS})
    return rejects.select(
        pl.col("file").cast(pl.String).alias("input"),
        pl.col("line").cast(pl.Int64),
        *(pl.col(c).cast(pl.String) for c in ("field", "reason", "raw_record")),
    )
