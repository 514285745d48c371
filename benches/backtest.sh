#!/usr/bin/env bash
# The backtest against the nightly run on one generated book with M months of loan-month records:
# alternating, RUNS times each, median wall time and peak RSS (/usr/bin/time).
# usage: [RUNS=3] bash benches/backtest.sh [LOANS] [MONTHS]   (default 1000000 loans, 12 months)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}; M=${2:-12}; RUNS=${RUNS:-3}
WORK=${WORK:-/tmp/underwater-bench}
BOOK="$WORK/history-$N-$M"
cargo build --release -q
BIN="${CARGO_TARGET_DIR:-target}/release/underwater"
mkdir -p "$WORK"
[ -f "$BOOK/outcomes.csv" ] || "$BIN" generate --loans "$N" --outcome-months "$M" --out "$BOOK" -q
IN=(--loans "$BOOK/loans.csv" --valuations "$BOOK/valuations.csv" --as-of 2025-06-30)
: >"$WORK/backtest-times"
for i in $(seq "$RUNS"); do
  sync
  /usr/bin/time -f "run %e %M" -a -o "$WORK/backtest-times" "$BIN" run "${IN[@]}" --out "$WORK/bt-run" -q
  sync
  /usr/bin/time -f "backtest %e %M" -a -o "$WORK/backtest-times" \
    "$BIN" backtest "${IN[@]}" --outcomes "$BOOK/outcomes.csv" --out "$WORK/bt-out" -q
done
for tool in run backtest; do
  grep "^$tool " "$WORK/backtest-times" | sort -k2 -n | awk -v t=$tool '{a[NR]=$2; m[NR]=$3} END {
    printf "%-9s median %.2f s, %d MiB (of %d runs)\n", t, a[int((NR+1)/2)], m[int((NR+1)/2)]/1024, NR }'
done
