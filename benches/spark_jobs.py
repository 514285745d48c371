"""The two Spark jobs benches/spark.sh measures underwater.spark against, on the same cluster.

- ``floor``: what Spark itself needs for the job: read both CSV files, keep the latest valuation per VIN,
  join it to each loan and write one row per loan as Parquet. Nothing is validated or computed.
- ``peer``: the same job as a data engineer would write it in plain Spark SQL, to the CLI's rules where
  the LTV table needs them: decimal money, the VIN trimmed and upper-cased, valuations after as_of ignored,
  the latest valuation with ties to the lowest value (then the lowest source), right-closed band edges
  compared exactly (balance × 100 ≤ edge × value, no rounded ratio), and the LTV summary's counts and sums.
  It has none of the CLI's validation, rejects, deficiency or pd figures.

Run by benches/spark.sh; ``python benches/spark_jobs.py BOOK`` runs both once on a local cluster.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from typing import Any

EDGES = [80, 100, 120, 140]


def floor(spark: Any, book: str, out: str) -> None:
    from pyspark.sql import Window, functions as F

    loans = spark.read.csv(f"{book}/loans.csv", header=True)
    valuations = spark.read.csv(f"{book}/valuations.csv", header=True)
    latest = (valuations.withColumn("_n", F.row_number().over(
        Window.partitionBy("vin").orderBy(F.col("valuation_date").desc())))
        .where("_n = 1").drop("_n"))
    loans.join(latest, "vin", "left").write.mode("overwrite").parquet(out)


def peer(spark: Any, book: str, as_of: str) -> dict[str, tuple[int, int, Decimal, Decimal, int, Decimal]]:
    """The LTV table: band → (accounts, valued accounts, balance, value, underwater accounts,
    negative equity)."""
    spark.read.csv(f"{book}/loans.csv", header=True).createOrReplaceTempView("loans")
    spark.read.csv(f"{book}/valuations.csv", header=True).createOrReplaceTempView("valuations")
    bands = " ".join(f"WHEN balance * 100 <= {e} * value THEN '{label}'" for e, label in
                     zip(EDGES, ["<=80", "80-100", "100-120", "120-140"]))
    rows = spark.sql(f"""
        WITH v AS (
            SELECT upper(trim(vin)) AS vin, CAST(valuation_date AS DATE) AS d,
                   CAST(value AS DECIMAL(18, 2)) AS value, source
            FROM valuations
            WHERE CAST(valuation_date AS DATE) <= DATE '{as_of}' AND CAST(value AS DECIMAL(18, 2)) > 0),
        best AS (
            SELECT vin, value FROM (
                SELECT *, row_number() OVER (PARTITION BY vin ORDER BY d DESC, value, source) AS n
                FROM v) WHERE n = 1),
        a AS (
            SELECT CAST(l.current_balance AS DECIMAL(18, 2)) AS balance, b.value
            FROM loans l LEFT JOIN best b ON upper(trim(l.vin)) = b.vin),
        banded AS (
            SELECT *, CASE WHEN value IS NULL THEN 'no_value' {bands} ELSE '>140' END AS band FROM a)
        SELECT band, count(*) AS accounts, count_if(value IS NOT NULL AND balance > 0) AS valued,
               sum(balance) AS balance, coalesce(sum(value), 0) AS value,
               count_if(balance > value) AS underwater,
               coalesce(sum(CASE WHEN balance > value THEN balance - value END), 0) AS negative_equity
        FROM banded GROUP BY band""").collect()
    return {r["band"]: (r["accounts"], r["valued"], r["balance"], r["value"], r["underwater"],
                        r["negative_equity"]) for r in rows}


def cluster(executor_mb: str = "4096") -> Any:
    """A local cluster of 2 executor processes with 1 core each."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(f"local-cluster[2,1,{executor_mb}]")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false").config("spark.driver.memory", "2g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


if __name__ == "__main__":
    spark = cluster()
    started = time.time()
    floor(spark, sys.argv[1], "/tmp/underwater-floor")
    print(f"floor {time.time() - started:.1f} s")
    started = time.time()
    print(peer(spark, sys.argv[1], "2025-06-30"), f"{time.time() - started:.1f} s")
    spark.stop()
