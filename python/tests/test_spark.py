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


def cell(value: object) -> str:
    """A Spark cell as the CLI's CSV writes it: a decimal in plain notation with all its places
    (Python writes a zero of 18 places as ``0E-18``), empty for null."""
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


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
    for name in sorted(p.name for p in (tmp_path / "cli").glob("summary_*.csv")):
        assert result.files[name] == (tmp_path / "cli" / name).read_bytes(), name
    header, rows = csv_cells((tmp_path / "cli" / "accounts.csv").read_bytes())
    got = sorted([cell(r[c]) for c in header] for r in result.accounts.collect())
    assert got == sorted(rows)
    _, cli_rejects = csv_cells((tmp_path / "cli" / "rejects.csv").read_bytes())
    want = sorted((pathlib.Path(r[0]).name, int(r[1]), r[2]) for r in cli_rejects)
    ours = sorted((r["input"], r["line"], r["field"] or "") for r in result.rejects.collect())
    assert len(want) > 10
    assert ours == want
