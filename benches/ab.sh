#!/usr/bin/env bash
# A/B: two underwater binaries on the same generated book, alternating, RUNS times each; median wall time
# and peak RSS of each, and whether their outputs are byte-identical (summary.json timestamps aside).
# usage: [ARGS="--format parquet"] bash benches/ab.sh OLD_BINARY NEW_BINARY [LOANS]   (default 1000000)
# To get the old binary: git worktree add /tmp/old REV && (cd /tmp/old && cargo build --release), then
# use $CARGO_TARGET_DIR/release/underwater copied aside before building the new one.
set -euo pipefail
OLD=$1; NEW=$2; N=${3:-1000000}
RUNS=${RUNS:-5}
# Extra flags for both runs, e.g. ARGS="--format parquet".
ARGS=${ARGS:-}
WORK=${WORK:-/tmp/underwater-bench}
AS_OF=2025-06-30
BOOK="$WORK/book-$N"
mkdir -p "$WORK"
[ -f "$BOOK/loans.csv" ] || "$NEW" generate --loans "$N" --seed 1 --out "$BOOK" --as-of $AS_OF -q
: >"$WORK/ab-times"
for i in $(seq "$RUNS"); do
  for side in old new; do
    bin=$OLD; [ $side = new ] && bin=$NEW
    rm -rf "$WORK/ab-$side"
    /usr/bin/time -f "$side %e %M" -a -o "$WORK/ab-times" \
      "$bin" run --loans "$BOOK/loans.csv" --valuations "$BOOK/valuations.csv" --as-of $AS_OF --out "$WORK/ab-$side" -q $ARGS
  done
done
for side in old new; do
  sed -i -E 's/"(started_at|finished_at)": "[^"]*"/"\1": "T"/' "$WORK/ab-$side/summary.json"
done
if diff -r "$WORK/ab-old" "$WORK/ab-new" >/dev/null; then same="byte-identical"; else same="DIFFERENT"; fi
python3 - "$WORK/ab-times" "$same" <<'PYEOF'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    side, secs, kb = line.split()
    rows.setdefault(side, []).append((float(secs), int(kb)))
for side, v in rows.items():
    print(f"{side}: median {statistics.median(s for s, _ in v):.2f} s, peak RSS {statistics.median(k for _, k in v) / 1024:.0f} MiB, runs {' '.join(f'{s:.2f}' for s, _ in v)}")
print(f"outputs: {sys.argv[2]}")
PYEOF
