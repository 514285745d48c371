#!/usr/bin/env bash
# Every kind of output of one underwater binary, for a refactoring's "byte-identical before and after":
# the sample book (CSV and Parquet runs), both real tapes, the 1M-loan book, three queries, night over
# night, the Ally panel's backtest and a generated history's backtest and calibration.
# usage: bash benches/outputs.sh BINARY DIR      then   python3 benches/same_outputs.py DIR_A DIR_B
# (build the old binary in a git worktree and copy it aside, as benches/ab.sh says). RUN_FLAGS adds flags to
# every run, backtest and calibrate (RUN_FLAGS=--no-lifetime: the outputs from before the lifetime figures).
set -euo pipefail
U=$(realpath "$1"); D=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd); M=$ROOT/data; S=$ROOT/../shared/data/regab
BOOK=${BOOK:-/tmp/underwater-bench/book-1000000}
rm -rf "$D"; mkdir -p "$D"; cd "$D"
[ -f "$BOOK/loans.csv" ] || "$U" generate --loans 1000000 --seed 1 --out "$BOOK" -q
"$U" run ${RUN_FLAGS:-} --loans "$M/loans.csv" --valuations "$M/valuations.csv" --config "$M/example.toml" --out sample -q
"$U" run ${RUN_FLAGS:-} --loans "$M/loans.csv" --valuations "$M/valuations.csv" --config "$M/example.toml" --format parquet --out samplepq -q
"$U" run ${RUN_FLAGS:-} --tape regab "$S/world_omni_2020_07.csv" --out world_omni -q
"$U" run ${RUN_FLAGS:-} --tape regab "$S/carmax_2017_9loans.csv" --out carmax -q
"$U" run ${RUN_FLAGS:-} --loans "$BOOK/loans.csv" --valuations "$BOOK/valuations.csv" --as-of 2025-06-30 --out book1m -q
"$U" query --run sample --by state --format csv >query_by_state.csv
"$U" query --run samplepq "SELECT account_id, negative_equity FROM accounts ORDER BY negative_equity DESC LIMIT 20" --format csv >query_top.csv
"$U" query --run sample --where "days_past_due >= 30" --by new_used,credit_tier --format json >query_where.json
"$U" generate --loans 3000 --out g0 -q
"$U" generate --loans 3000 --months-later 1 --out g1 -q
"$U" run ${RUN_FLAGS:-} --loans g0/loans.csv --valuations g0/valuations.csv --as-of 2025-06-30 --out night0 -q
"$U" run ${RUN_FLAGS:-} --loans g1/loans.csv --valuations g1/valuations.csv --as-of 2025-07-31 --previous night0 --out night1 -q
"$U" backtest ${RUN_FLAGS:-} --tape regab "$S/ally_2017_3_panel.csv" --horizon 24 --out ally -q
"$U" generate --loans 20000 --outcome-months 12 --out history -q
"$U" backtest ${RUN_FLAGS:-} --loans history/loans.csv --valuations history/valuations.csv --as-of 2025-06-30 --outcomes history/outcomes.csv --out backtest -q
"$U" calibrate ${RUN_FLAGS:-} --loans history/loans.csv --valuations history/valuations.csv --as-of 2025-06-30 --outcomes history/outcomes.csv --out calibrate -q
rm -rf g0 g1 history
