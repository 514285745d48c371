#!/usr/bin/env bash
# End-to-end comparison on the same generated books: underwater against the machine's I/O floor (polars reads
# both files and writes a CSV the size of accounts.csv), the polars read floor, a polars lazy script, DuckDB
# and pandas.
# usage: bash benches/compare.sh [LOANS ...]     (default: 1000000; e.g. bash benches/compare.sh 1000000 10000000)
# Runs are alternated, RUNS times each; prints median wall time, median peak RSS and ratios.
# TOOLS="underwater floor duckdb" leaves pandas out (it takes about 8 minutes on the 10M book).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
TOOLS=${TOOLS:-underwater iofloor floor polars duckdb pandas}
wants() { [[ " $TOOLS " == *" $1 "* ]]; }
WORK=${WORK:-/tmp/underwater-bench}
AS_OF=2025-06-30
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/underwater-target}"
cargo build --release -q
UW="$CARGO_TARGET_DIR/release/underwater"
# The read floor is a bench target (benches/read_floor.rs): its built binary, timed without cargo.
FLOOR=$(cargo bench --bench read_floor --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable") and "read_floor" in m["executable"]][-1])')
mkdir -p "$WORK"
[ -x "$WORK/venv/bin/python" ] || python3 -m venv "$WORK/venv"
if ! "$WORK/venv/bin/python" -c "import duckdb, pandas, numpy, polars" 2>/dev/null; then
  "$WORK/venv/bin/pip" install -q duckdb pandas numpy polars
fi
PY="$WORK/venv/bin/python"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }

measure() { # name outdir cmd... -> appends "name seconds kb" to $WORK/times
  local name=$1 out=$2; shift 2
  rm -rf "$out"; mkdir -p "$out"
  # Each tool starts with nothing left to write back: the one before wrote a 245 MB file, whose
  # writeback would otherwise land on whichever tool runs next.
  sync
  /usr/bin/time -f "%e %M" -o "$WORK/t.$$" "$@" >/dev/null 2>"$WORK/err.$$" || { cat "$WORK/err.$$"; exit 1; }
  echo "$name $(cat "$WORK/t.$$")" >>"$WORK/times"
}

for N in "${@:-1000000}"; do
  BOOK="$WORK/book-$N"
  [ -f "$BOOK/loans.csv" ] || "$UW" generate --loans "$N" --seed 1 --out "$BOOK" --as-of $AS_OF -q
  L="$BOOK/loans.csv"; V="$BOOK/valuations.csv"
  : >"$WORK/times"
  for i in $(seq "$RUNS"); do
    rm -rf "$WORK/uw"
    wants underwater && measure underwater "$WORK/uw-stage" "$UW" run --loans "$L" --valuations "$V" --as-of $AS_OF --out "$WORK/uw" -q
    wants iofloor && measure iofloor "$WORK/iofloor" "$PY" benches/io_floor.py "$L" "$V" "$WORK/iofloor"
    wants floor && measure floor "$WORK/floor" "$FLOOR" "$L" "$V"
    wants polars && measure polars "$WORK/polars" "$PY" benches/polars_job.py "$L" "$V" $AS_OF "$WORK/polars"
    wants duckdb && measure duckdb "$WORK/duckdb" "$PY" benches/duckdb_job.py "$L" "$V" $AS_OF "$WORK/duckdb"
    wants pandas && measure pandas "$WORK/pandas" "$PY" benches/pandas_job.py "$L" "$V" $AS_OF "$WORK/pandas"
  done
  echo "== $N loans ($(du -h "$L" | cut -f1) loans, $(du -h "$V" | cut -f1) valuations), $RUNS alternating runs, $(nproc) cores, $(date -u +%F)"
  "$PY" - "$WORK/times" <<'PYEOF'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, secs, kb = line.split()
    rows.setdefault(name, []).append((float(secs), int(kb)))
med = {n: (statistics.median(s for s, _ in v), statistics.median(k for _, k in v)) for n, v in rows.items()}
print(f"{'tool':<12}{'median s':>10}{'peak RSS MiB':>14}")
tools = ["underwater", "iofloor", "floor", "polars", "duckdb", "pandas"]
for n in [n for n in tools if n in med]:
    s, k = med[n]
    print(f"{n:<12}{s:>10.2f}{k / 1024:>14.0f}")
if "underwater" in med:
    u = med["underwater"][0]
    print("ratios: " + "  ".join(f"underwater/{n} {u / med[n][0]:.2f}" for n in tools[1:] if n in med))
# The same figures as BENCHMARKS.md's "Current figures" rows, to paste there.
names = {"underwater": "underwater", "iofloor": "I/O floor", "floor": "read floor",
         "polars": "polars script", "duckdb": "DuckDB script", "pandas": "pandas script"}
print("\n| | median time / peak RSS |\n|---|---:|")
for n in [n for n in tools if n in med]:
    s, k = med[n]
    print(f"| {names[n]} | {s:.2f} s / {k / 1024:.0f} MiB |")
if "underwater" in med:
    for n in [n for n in ("iofloor", "duckdb") if n in med]:
        print(f"| underwater / {names[n]} | {u / med[n][0]:.2f}× |")
PYEOF
  if wants underwater && wants duckdb && wants pandas; then
    "$PY" benches/agree.py "$WORK/uw" "$WORK/duckdb" "$WORK/pandas"
  fi
done
