#!/usr/bin/env bash
# `underwater query` end to end on a finished 1M-account run in Parquet: a group-by with the summary
# metrics, a filtered top-N, and a SQL sum. Target (issue 4): a group-by answers in under 1 s.
# usage: bash benches/query.sh [LOANS]   (default 1000000); RUNS=5 by default; prints median wall and RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-5}
WORK=${WORK:-/tmp/underwater-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/underwater-target}"
cargo build --release -q
UW="$CARGO_TARGET_DIR/release/underwater"
BOOK="$WORK/book-$N"
mkdir -p "$WORK"
[ -f "$BOOK/loans.csv" ] || "$UW" generate --loans "$N" --seed 1 --out "$BOOK" --as-of 2025-06-30 -q
RUN="$WORK/run-parquet-$N"
[ -f "$RUN/accounts.parquet" ] || "$UW" run --loans "$BOOK/loans.csv" --valuations "$BOOK/valuations.csv" \
  --as-of 2025-06-30 --format parquet --out "$RUN" -q
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bench() { # name args...
  local name=$1; shift
  : >"$WORK/q.times"
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$WORK/q.t" "$UW" query -q --run "$RUN" --format csv "$@" >/dev/null
    cat "$WORK/q.t" >>"$WORK/q.times"
  done
  printf "%-28s median %5.2f s   peak RSS %5d MiB\n" "$name" \
    "$(cut -d' ' -f1 "$WORK/q.times" | median)" "$(( $(cut -d' ' -f2 "$WORK/q.times" | median) / 1024 ))"
}
echo "== query on a $N-account Parquet run ($(du -h "$RUN/accounts.parquet" | cut -f1)), $RUNS runs, $(nproc) cores, $(date -u +%F)"
bench "--by state,new_used" --by state,new_used
bench "--where dpd>=60 --top 20" --where "days_past_due >= 60" --top 20 --order-by expected_deficiency
bench "SQL sum by credit_score>=720" "SELECT SUM(negative_equity) AS ne FROM accounts WHERE credit_score >= 720"

# Issue 12's bound: the Parquet run and a query of the raw inputs each within the CSV run's time + 1 s.
# The three alternate, so a slow spell of the machine hits all of them alike.
echo "== the CSV run, the Parquet run and a raw-input query, alternating, $RUNS runs"
L="$BOOK/loans.csv" V="$BOOK/valuations.csv"
: >"$WORK/csv.times"; : >"$WORK/pq.times"; : >"$WORK/raw.times"
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %M" -o "$WORK/t" "$UW" run -q --loans "$L" --valuations "$V" --as-of 2025-06-30 \
    --out "$WORK/alt-csv" && cat "$WORK/t" >>"$WORK/csv.times"
  /usr/bin/time -f "%e %M" -o "$WORK/t" "$UW" run -q --loans "$L" --valuations "$V" --as-of 2025-06-30 \
    --format parquet --out "$WORK/alt-pq" && cat "$WORK/t" >>"$WORK/pq.times"
  /usr/bin/time -f "%e %M" -o "$WORK/t" "$UW" query -q --loans "$L" --valuations "$V" --as-of 2025-06-30 \
    --by new_used --format csv >/dev/null && cat "$WORK/t" >>"$WORK/raw.times"
done
csv=$(cut -d' ' -f1 "$WORK/csv.times" | median)
for t in csv pq raw; do
  m=$(cut -d' ' -f1 "$WORK/$t.times" | median)
  printf "%-28s median %5.2f s (%+5.2f s)  peak RSS %5d MiB\n" \
    "$(case $t in csv) echo "run (CSV)";; pq) echo "run --format parquet";; raw) echo "query --loans --valuations";; esac)" \
    "$m" "$(awk -v a="$m" -v b="$csv" "BEGIN {print a - b}")" "$(( $(cut -d' ' -f2 "$WORK/$t.times" | median) / 1024 ))"
done
