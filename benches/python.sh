#!/usr/bin/env bash
# The Python package against the CLI on the same generated book: `underwater run` (writes every output, CSV
# or Parquet accounts), `underwater.run(...)` (the same book computed, the summary, tables and reports as
# DataFrames and bytes, nothing written), the same with `.accounts` read (the per-account frame built), and
# `underwater.run(..., out=...)` (published as the CLI does). Runs are alternated, RUNS times each; prints median wall time
# and peak RSS, and the package's time over the CLI's.
# usage: bash benches/python.sh [LOANS]     (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-5}
WORK=${WORK:-/tmp/underwater-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/underwater-target}"
venv="${UNDERWATER_VENV:-$HOME/.cache/underwater-venv}"
cargo build --release -q
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.9,<2" "polars>=1.20"
(cd python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --quiet)
UW="$CARGO_TARGET_DIR/release/underwater"
BOOK="$WORK/book-$N"
mkdir -p "$WORK"
[ -f "$BOOK/loans.csv" ] || "$UW" generate --loans "$N" --seed 1 --out "$BOOK" --as-of 2025-06-30 -q
L="$BOOK/loans.csv"; V="$BOOK/valuations.csv"
: >"$WORK/pytimes"
measure() { # name cmd...
  local name=$1; shift
  rm -rf "$WORK/py-out"; sync
  /usr/bin/time -f "%e %M" -o "$WORK/t.$$" "$@" >/dev/null
  echo "$name $(cat "$WORK/t.$$")" >>"$WORK/pytimes"
}
# argv: loans valuations out|- accounts|-
PYRUN="import sys, underwater as uw
r = uw.run(loans=sys.argv[1], valuations=sys.argv[2], as_of='2025-06-30', out=None if sys.argv[3] == '-' else sys.argv[3])
assert r.summary.portfolio.accounts > 0
if sys.argv[4] == 'accounts': assert r.accounts.height > 0"
for _ in $(seq "$RUNS"); do
  measure cli "$UW" run --loans "$L" --valuations "$V" --as-of 2025-06-30 --out "$WORK/py-out" -q
  measure cli_parquet "$UW" run --loans "$L" --valuations "$V" --as-of 2025-06-30 --out "$WORK/py-out" --format parquet -q
  measure python "$venv/bin/python" -c "$PYRUN" "$L" "$V" - -
  measure python_accounts "$venv/bin/python" -c "$PYRUN" "$L" "$V" - accounts
  measure python_out "$venv/bin/python" -c "$PYRUN" "$L" "$V" "$WORK/py-out" -
done
"$venv/bin/python" - "$WORK/pytimes" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {n: (statistics.median(float(r[1]) for r in rows if r[0] == n),
           statistics.median(int(r[2]) for r in rows if r[0] == n) / 1024) for n in dict.fromkeys(r[0] for r in rows)}
for n, (s, mb) in med.items():
    print(f"{n:11} {s:6.2f} s  {mb:6.0f} MB  x{s / med['cli'][0]:.2f}")
PY
