"""underwater.spark.run on a real local cluster (a master and two executor processes, each with its own
JVM and Python workers): the accounts and every summary table equal the CLI's for the same book."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import sys

from decimal import Decimal

import pytest

from conftest import cli, csv_cells

# Not importorskip: a Spark test that cannot run fails (tests/all.sh installs pyspark).
import pyspark  # noqa: E402,F401


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local-cluster[2,1,1024]")
        .appName("underwater-test")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
        .getOrCreate()
    )
    yield session
    session.stop()


def book_with_repeated_ids(tmp: pathlib.Path, loans: int) -> pathlib.Path:
    """A generated book, plus rows that repeat an account id under another VIN (so its VIN would put
    the copy in another partition than the original) and a row repeated whole."""
    cli("generate", "--loans", str(loans), "--seed", "11", "--out", str(tmp), "--as-of", "2025-06-30", "-q")
    path = tmp / "loans.csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    vin = header.index("vin")
    extra = []
    for i in range(0, 2000, 100):
        copy = list(body[i])
        copy[vin] = body[-1 - i][vin]  # another loan's VIN: another partition's key
        extra.append(copy)
    extra.append(list(body[5]))
    with open(path, "a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(extra)
    return tmp


def visible(text: str) -> str:
    """Text as the CLI's CSV writes it: a character that hides or reorders text (a control but tab and
    line ends, a bidi override or isolate, a zero-width mark) as a visible ``\\u{...}`` escape. A
    DataFrame holds the raw text."""
    def hidden(c: str) -> bool:
        o = ord(c)
        return ((o < 0x20 or 0x7f <= o <= 0x9f) and c not in "\t\n\r") or 0x202a <= o <= 0x202e \
            or 0x2066 <= o <= 0x2069 or 0x200b <= o <= 0x200f or 0x2060 <= o <= 0x2064 or o == 0xfeff
    return "".join(f"\\u{{{ord(c):x}}}" if hidden(c) else c for c in text)


def cell(value: object) -> str:
    """A Spark cell as the CLI's CSV writes it: a decimal in plain notation with all its places
    (Python writes a zero of 18 places as ``0E-18``), text with its hidden characters visible, empty
    for null."""
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else visible(str(value))


def assert_tables_are_the_clis(result, cli_dir: pathlib.Path) -> None:
    """Every summary table the CLI wrote into ``cli_dir`` is, byte for byte, the Spark run's."""
    for name in sorted(p.name for p in cli_dir.glob("summary_*.csv")):
        assert result.files[name] == (cli_dir / name).read_bytes(), name


def test_spark_equals_the_cli_on_a_200k_book_with_repeated_ids(spark, tmp_path: pathlib.Path) -> None:
    import underwater.spark as uws

    book = book_with_repeated_ids(tmp_path / "book", 200_000)
    cli("run", "--loans", str(book / "loans.csv"), "--valuations", str(book / "valuations.csv"),
        "--as-of", "2025-06-30", "--out", str(tmp_path / "cli"), "-q")
    loans = spark.read.csv(str(book / "loans.csv"), header=True)
    valuations = spark.read.csv(str(book / "valuations.csv"), header=True)
    # Two executor processes beside the driver, each with one core.
    assert spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() == 3
    assert spark.sparkContext.defaultParallelism == 2
    result = uws.run(spark, loans, valuations, as_of="2025-06-30", partitions=8)
    accounts, tables = result

    # Every summary table: the CLI's bytes.
    cli_tables = sorted(p.name for p in (tmp_path / "cli").glob("summary_*.csv"))
    assert sorted(result.files) == cli_tables
    for name in cli_tables:
        assert result.files[name] == (tmp_path / "cli" / name).read_bytes(), name
    assert set(tables) == {n.removesuffix(".csv") for n in cli_tables}

    # The whole book's portfolio, origination-LTV percentiles and top exposures: summary.json's.
    cli_summary = json.loads((tmp_path / "cli" / "summary.json").read_bytes())
    ours = json.loads(result.summary_json)
    assert ours["portfolio"] == cli_summary["portfolio"]
    assert ours["top_exposures"] == cli_summary["top_exposures"]
    median = cli_summary["portfolio"]["origination_ltv"]["median"]
    assert result.summary.portfolio.origination_ltv.median == Decimal(median)

    # Every account, cell for cell, and the same accounts rejected for the repeated ids.
    header, rows = csv_cells((tmp_path / "cli" / "accounts.csv").read_bytes())
    assert accounts.columns == header
    assert dict(accounts.dtypes)["balance"] == "decimal(38,2)"
    got = sorted(([cell(r[c]) for c in header] for r in accounts.collect()), key=lambda r: r[0])
    assert got == sorted(rows, key=lambda r: r[0])
    _, cli_rejects = csv_cells((tmp_path / "cli" / "rejects.csv").read_bytes())
    spark_rejects = result.rejects.collect()
    # 20 ids on two rows each, and one row repeated whole: 42 rows, every row of a repeated id.
    assert len(spark_rejects) == len(cli_rejects) == 42
    assert sorted(r["raw_record"] for r in spark_rejects) == sorted(r[-1] for r in cli_rejects)
    assert {r["reason"].split(":")[0] for r in spark_rejects} == {"duplicate account_id"}


def test_spark_on_csv_files_names_each_reject_by_file_and_line(spark, tmp_path: pathlib.Path) -> None:
    """`run_csv` reads the CLI's own files, line by line: a generated dirty book gives the CLI's accounts
    and tables, and each reject names the same file and line as the CLI's rejects.csv."""
    import underwater.spark as uws

    book = tmp_path / "book"
    cli("generate", "--loans", "20000", "--seed", "5", "--dirty", "--out", str(book), "-q")
    cli("run", "--loans", str(book / "loans.csv"), "--valuations", str(book / "valuations.csv"),
        "--as-of", "2025-06-30", "--out", str(tmp_path / "cli"), "-q")
    result = uws.run_csv(spark, str(book / "loans.csv"), str(book / "valuations.csv"),
                         as_of="2025-06-30", partitions=4)
    assert_tables_are_the_clis(result, tmp_path / "cli")
    header, rows = csv_cells((tmp_path / "cli" / "accounts.csv").read_bytes())
    got = sorted([cell(r[c]) for c in header] for r in result.accounts.collect())
    assert got == sorted(rows)
    _, cli_rejects = csv_cells((tmp_path / "cli" / "rejects.csv").read_bytes())
    want = sorted((pathlib.Path(r[0]).name, int(r[1]), r[2]) for r in cli_rejects)
    ours = sorted((r["input"], r["line"], r["field"] or "") for r in result.rejects.collect())
    assert len(want) > 10
    assert ours == want


def test_spark_equals_the_cli_with_renamed_columns_padded_vins_and_empty_partitions(
        spark, tmp_path: pathlib.Path) -> None:
    """A `[columns]` config (the lender's own column names), ids that differ only by a form feed (two
    accounts, as the CLI trims spaces and tabs only), a space-padded id, lower-case and space-padded VINs
    against upper-case valuations, and 4 loans over 16 partitions (most of them empty): the accounts,
    the rejects and every table equal the CLI's."""
    import underwater.spark as uws

    loans = tmp_path / "loans.csv"
    loans.write_text(
        "LoanNo,Serial,origination_date,amount_financed,term_months,current_balance,days_past_due,apr,"
        "monthly_payment,new_used\n"
        "A1,vin00000000000001,2024-06-30,20000,60,18000.00,0,5,400.00,used\n"
        "A1\f,VIN00000000000002,2024-06-30,20000,60,17000.00,30,5,400.00,used\n"
        " A2 , vin00000000000003 ,2023-06-30,30000,72,26000.00,0,7,500.00,new\n"
        "A3,VIN00000000000004,2023-06-30,30000,72,26000.00,0,7,500.00,new\n"
        "A4,VIN00000000000005,2023-06-30,30000,72,not-money,0,7,500.00,new\n",
        encoding="utf-8")
    valuations = tmp_path / "valuations.csv"
    valuations.write_text(
        "vin,valuation_date,value,source\nVIN00000000000001,2025-06-01,15500,kbb\n"
        "VIN00000000000002,2025-06-01,19000.50,kbb\nVIN00000000000003,2025-05-01,24000,kbb\n",
        encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text('[columns]\naccount_id = "LoanNo"\nvin = "Serial"\n', encoding="utf-8")
    cli("run", "--loans", str(loans), "--valuations", str(valuations), "--config", str(config),
        "--as-of", "2025-06-30", "--out", str(tmp_path / "cli"), "-q")
    result = uws.run(spark, spark.read.csv(str(loans), header=True),
                     spark.read.csv(str(valuations), header=True), as_of="2025-06-30",
                     config=str(config), partitions=16)
    assert_tables_are_the_clis(result, tmp_path / "cli")
    header, rows = csv_cells((tmp_path / "cli" / "accounts.csv").read_bytes())
    got = sorted([cell(r[c]) for c in header] for r in result.accounts.collect())
    assert got == sorted(rows)
    assert len(rows) == 4 and {r[0] for r in rows} == {"A1", "A1\\u{c}", "A2", "A3"}
    _, cli_rejects = csv_cells((tmp_path / "cli" / "rejects.csv").read_bytes())
    ours = sorted((r["field"], r["reason"], r["raw_record"]) for r in result.rejects.collect())
    assert ours == sorted((r[2], r[3], r[4]) for r in cli_rejects) and len(ours) == 1


def test_spark_refuses_a_numeric_id_column_read_by_infer_schema(spark, tmp_path: pathlib.Path) -> None:
    """`inferSchema=True` reads ids 000123 and 123 as one double: refused, naming the column and the fix."""
    import underwater as uw
    import underwater.spark as uws

    loans = tmp_path / "loans.csv"
    loans.write_text(
        "account_id,vin,origination_date,amount_financed,term_months,current_balance\n"
        "000123,V1,2024-06-30,20000,60,18000.00\n123,V2,2024-06-30,20000,60,18000.00\n",
        encoding="utf-8")
    valuations = tmp_path / "valuations.csv"
    valuations.write_text("vin,valuation_date,value,source\nV1,2025-06-01,15500,kbb\n", encoding="utf-8")
    frame = spark.read.csv(str(loans), header=True, inferSchema=True)
    with pytest.raises(uw.InputError, match="account_id.*inferSchema") as e:
        uws.run(spark, frame, spark.read.csv(str(valuations), header=True), as_of="2025-06-30")
    assert e.value.field == "account_id"


def test_spark_reads_typed_parquet_and_float_values_and_writes_the_accounts_as_parts(
        spark, tmp_path: pathlib.Path) -> None:
    """A book typed as a warehouse types it — loans as Parquet with DATE, DECIMAL(18, 2) and INT columns,
    valuations read with `inferSchema` (the values DOUBLE) — gives the CLI's accounts and tables on the
    CSV text, the floats read through their shortest round-trip text; with `accounts_dir` each
    partition writes its accounts as a Parquet part that `accounts` reads; `no_outlook` as the CLI's
    `--no-outlook`."""
    import underwater.spark as uws
    from pyspark.sql import functions as F

    book = tmp_path / "book"
    cli("generate", "--loans", "3000", "--seed", "9", "--out", str(book), "--as-of", "2025-06-30", "-q")
    cli("run", "--loans", str(book / "loans.csv"), "--valuations", str(book / "valuations.csv"),
        "--as-of", "2025-06-30", "--out", str(tmp_path / "cli"), "--no-outlook", "-q")
    text = spark.read.csv(str(book / "loans.csv"), header=True)
    typed = text.select(*[
        F.col(c).cast("date").alias(c) if c == "origination_date"
        else F.col(c).cast("decimal(18,2)").alias(c) if c in ("amount_financed", "current_balance")
        else F.col(c).cast("int").alias(c) if c in ("term_months", "days_past_due")
        else F.col(c) for c in text.columns])
    typed.write.parquet(str(tmp_path / "loans.parquet"))
    loans = spark.read.parquet(str(tmp_path / "loans.parquet"))
    valuations = spark.read.csv(str(book / "valuations.csv"), header=True, inferSchema=True)
    assert dict(valuations.dtypes)["value"] == "double"
    assert dict(loans.dtypes)["current_balance"] == "decimal(18,2)"
    result = uws.run(spark, loans, valuations, as_of="2025-06-30", partitions=4, no_outlook=True,
                     accounts_dir=str(tmp_path / "accounts"))
    assert "summary_runoff.csv" not in result.files
    assert len(list((tmp_path / "accounts").glob("part-*.parquet"))) == 4
    assert_tables_are_the_clis(result, tmp_path / "cli")
    header, rows = csv_cells((tmp_path / "cli" / "accounts.csv").read_bytes())
    assert result.accounts.columns == header
    got = sorted([cell(r[c]) for c in header] for r in result.accounts.collect())
    assert got == sorted(rows)
    assert result.rejects.count() == 0


def test_regression_a_second_run_into_a_new_accounts_dir_wrote_no_parts(spark, tmp_path: pathlib.Path) -> None:
    """The kernel's output was cached by its plan, so the same inputs run again into another (empty)
    accounts_dir were served from the cache: no part was written and the accounts came back empty."""
    import underwater.spark as uws

    book = tmp_path / "book"
    cli("generate", "--loans", "500", "--seed", "4", "--dirty", "--out", str(book), "-q")
    read = lambda name: spark.read.csv(str(book / name), header=True)  # noqa: E731
    first = uws.run(spark, read("loans.csv"), read("valuations.csv"), as_of="2025-06-30",
                    partitions=2, accounts_dir=str(tmp_path / "a"))
    second = uws.run(spark, read("loans.csv"), read("valuations.csv"), as_of="2025-06-30",
                     partitions=2, accounts_dir=str(tmp_path / "b"))
    assert first.accounts.count() == second.accounts.count() > 400
    assert first.rejects.count() == second.rejects.count() > 0
    with pytest.raises(Exception, match="not empty"):
        uws.run(spark, read("loans.csv"), read("valuations.csv"), as_of="2025-06-30",
                accounts_dir=str(tmp_path / "b"))


def test_spark_runs_a_book_laid_out_in_vin_parts_without_a_shuffle(spark, tmp_path: pathlib.Path) -> None:
    """`generate --parts 4`: each task reads its pair of Parquet parts, no Exchange in the plan, and the
    whole book's tables and accounts equal the CLI's on the CSV. An id repeated across two parts sends
    the book through the shuffle, and every row of it is rejected as the CLI rejects it."""
    import polars as pl
    import underwater.spark as uws

    book = tmp_path / "book"
    cli("generate", "--loans", "4000", "--seed", "6", "--out", str(book), "--parts", "4", "-q")
    cli("run", "--loans", str(book / "loans.csv"), "--valuations", str(book / "valuations.csv"),
        "--as-of", "2025-06-30", "--out", str(tmp_path / "cli"), "-q")
    parts = book / "parts"
    result = uws.run_parts(spark, str(parts / "loans"), str(parts / "valuations"), as_of="2025-06-30",
                           accounts_dir=str(tmp_path / "accounts"))
    assert "Exchange" not in result.plan
    assert_tables_are_the_clis(result, tmp_path / "cli")
    header, rows = csv_cells((tmp_path / "cli" / "accounts.csv").read_bytes())
    got = sorted([cell(r[c]) for c in header] for r in result.accounts.collect())
    assert got == sorted(rows)

    # Part 1's first loan repeated in part 0 (and in the CSV, for the CLI).
    first = pl.read_parquet(parts / "loans" / "part-00001.parquet").head(1)
    zero = parts / "loans" / "part-00000.parquet"
    pl.concat([pl.read_parquet(zero), first]).write_parquet(zero)
    with open(book / "loans.csv", "a", encoding="utf-8") as f:
        f.write(",".join(first.row(0)) + "\n")
    cli("run", "--loans", str(book / "loans.csv"), "--valuations", str(book / "valuations.csv"),
        "--as-of", "2025-06-30", "--out", str(tmp_path / "cli2"), "-q")
    again = uws.run_parts(spark, str(parts / "loans"), str(parts / "valuations"), as_of="2025-06-30")
    assert "Exchange" in again.plan
    assert_tables_are_the_clis(again, tmp_path / "cli2")
    assert sorted(r["raw_record"] for r in again.rejects.collect()) == [",".join(first.row(0))] * 2
