#!/usr/bin/env bash
# The 100,000,000-loan book on the local cluster: generated as Parquet parts by VIN hash (the CSVs removed
# once split, for the disk), run by `underwater.spark.run_parts` with executors of at most 4 GB (2
# executor processes, 1 core each), the accounts written as Parquet parts; the peak memory of each
# executor (its JVM and its Python workers, sampled every second from /proc) and the disk used; then the
# CLI on every part, one at a time, and its LTV tables summed: they must equal the Spark run's to the cent.
# A benchmark run by hand (about an hour here), never in CI.
# usage: bash benches/spark_100m.sh [LOANS] [PARTS]     (default 100000000 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000000}
PARTS=${2:-1000}
WORK=${WORK:-/tmp/underwater-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/underwater-target}"
venv="${UNDERWATER_VENV:-$HOME/.cache/underwater-venv}"
cargo build --release -q
(cd python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --quiet)
UW="$CARGO_TARGET_DIR/release/underwater"
BOOK="$WORK/book-$N-parts"
if [ ! -d "$BOOK/parts" ]; then
  /usr/bin/time -f "generate $N loans in $PARTS parts: %e s, %M KB" "$UW" generate --loans "$N" --seed 1 \
    --out "$BOOK" --as-of 2025-06-30 --parts "$PARTS" -q
  rm -f "$BOOK/loans.csv" "$BOOK/valuations.csv"
fi
du -sh "$BOOK/parts/loans" "$BOOK/parts/valuations"
rm -rf "$WORK/spark-100m-accounts"
PYSPARK_PYTHON="$venv/bin/python" PYTHONPATH=benches "$venv/bin/python" - "$BOOK" "$WORK" <<'PY' 2> >(grep -v "WARN\|Stage\|log4j\|setLogLevel" >&2)
import os, sys, threading, time
import spark_jobs
import underwater.spark as uws
book, work = sys.argv[1], sys.argv[2]

def executors() -> dict[int, int]:
    """Each executor JVM's pid and the summed RSS (KB) of it and its descendants (the Python workers)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    roots = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = open(f"/proc/{pid}/status").read()
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        ppid = int(fields["PPid"])
        children.setdefault(ppid, []).append(int(pid))
        rss[int(pid)] = int(fields.get("VmRSS", "0 kB").split()[0])
        if b"CoarseGrainedExecutorBackend" in cmd:
            roots.append(int(pid))
    def total(pid: int) -> int:
        return rss.get(pid, 0) + sum(total(c) for c in children.get(pid, []))
    return {pid: total(pid) for pid in roots}

peak: dict[int, int] = {}
done = threading.Event()
def sample() -> None:
    while not done.is_set():
        for pid, kb in executors().items():
            peak[pid] = max(peak.get(pid, 0), kb)
        time.sleep(1)

spark = spark_jobs.cluster("4096")
threading.Thread(target=sample, daemon=True).start()
started = time.time()
result = uws.run_parts(spark, f"{book}/parts/loans", f"{book}/parts/valuations", as_of="2025-06-30",
                       accounts_dir=f"{work}/spark-100m-accounts")
took = time.time() - started
done.set()
assert "Exchange" not in result.plan
with open(f"{work}/spark-100m-ltv.csv", "wb") as f:
    f.write(result.files["summary_by_ltv_bucket.csv"])
print(f"run_parts: {took:.1f} s; peak per executor (JVM and Python workers): "
      + ", ".join(f"{kb / 1024 / 1024:.2f} GB" for kb in sorted(peak.values())))
spark.stop()
PY
du -sh "$WORK/spark-100m-accounts"
# The CLI on each part alone, its LTV tables summed.
PYTHONPATH=benches "$venv/bin/python" - "$UW" "$BOOK" "$WORK" <<'PY'
import csv, glob, os, subprocess, sys, time
from decimal import Decimal
uw, book, work = sys.argv[1:4]
sums: dict[tuple[str, str], Decimal] = {}
started = time.time()
for loans in sorted(glob.glob(f"{book}/parts/loans/part-*.parquet")):
    valuations = f"{book}/parts/valuations/{os.path.basename(loans)}"
    out = f"{work}/cli-part"
    subprocess.run([uw, "run", "--loans", loans, "--valuations", valuations, "--as-of", "2025-06-30",
                    "--out", out, "-q"], check=True)
    for row in csv.DictReader(open(f"{out}/summary_by_ltv_bucket.csv")):
        for k, v in row.items():
            if k != "ltv_bucket":
                sums[(row["ltv_bucket"], k)] = sums.get((row["ltv_bucket"], k), Decimal(0)) + Decimal(v)
spark = list(csv.DictReader(open(f"{work}/spark-100m-ltv.csv")))
for row in spark:
    for k, v in row.items():
        if k != "ltv_bucket":
            assert sums[(row["ltv_bucket"], k)] == Decimal(v), (row["ltv_bucket"], k, v)
print(f"CLI over the parts one at a time: {time.time() - started:.0f} s; the Spark run's LTV table equals "
      f"the sum of the parts' to the cent ({len(spark)} rows, {spark[-1]['accounts']} accounts)")
PY
