#!/usr/bin/env bash
# underwater.spark.run against the CLI on the same generated book and the same cores: a Spark
# local-cluster with 2 executor processes of 1 core each (this machine's 2 cores), the book read from
# CSV as text, the tables folded and the accounts written to Parquet; the CLI's `run --format parquet`.
# usage: bash benches/spark.sh [LOANS ...]      (default 1000000; e.g. bash benches/spark.sh 1000000 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/underwater-bench}
EXECUTOR_MB=${EXECUTOR_MB:-4096}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/underwater-target}"
venv="${UNDERWATER_VENV:-$HOME/.cache/underwater-venv}"
cargo build --release -q
"$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.9,<2" "polars>=1.20" \
  "pyspark>=4,<5" pyarrow "pandas>=2.2,<3"
(cd python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --quiet)
UW="$CARGO_TARGET_DIR/release/underwater"
for N in "${@:-1000000}"; do
  BOOK="$WORK/book-$N"
  [ -f "$BOOK/loans.csv" ] || "$UW" generate --loans "$N" --seed 1 --out "$BOOK" --as-of 2025-06-30 -q
  rm -rf "$WORK/spark-cli"; sync
  /usr/bin/time -f "cli_parquet $N %e s %M KB" "$UW" run --loans "$BOOK/loans.csv" --valuations "$BOOK/valuations.csv" \
    --as-of 2025-06-30 --out "$WORK/spark-cli" --format parquet -q
  rm -rf "$WORK/spark-out"; sync
  PYSPARK_PYTHON="$venv/bin/python" "$venv/bin/python" - "$BOOK" "$WORK/spark-out" "$N" "$EXECUTOR_MB" <<'PY' 2> >(grep -v "WARN\|Stage\|log4j\|setLogLevel" >&2)
import sys, time
from pyspark.sql import SparkSession
import underwater.spark as uws
book, out, n, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
t0 = time.time()
spark = (SparkSession.builder.master(f"local-cluster[2,1,{mb}]").config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.ui.enabled", "false")
         .config("spark.driver.memory", "2g").getOrCreate())
t1 = time.time()
loans = spark.read.csv(f"{book}/loans.csv", header=True)
valuations = spark.read.csv(f"{book}/valuations.csv", header=True)
parts = max(8, n // 100_000)
result = uws.run(spark, loans, valuations, as_of="2025-06-30", partitions=parts)
t2 = time.time()
result.accounts.write.parquet(out)
t3 = time.time()
print(f"spark {n} start {t1 - t0:.1f} s, kernel+tables {t2 - t1:.1f} s, accounts to parquet {t3 - t2:.1f} s, "
      f"total after start {t3 - t1:.1f} s ({parts} partitions)")
spark.stop()
PY
done
