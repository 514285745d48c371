#!/usr/bin/env python3
"""The lifetime model judged on loans the fit never saw: the shared Ally 2017-3 panel split into
pools (by account-number parity, and by state), `calibrate` on one pool, `backtest` of the other
with the calibrated config, at several horizons and origins, beside the flat pd's figures.

    python3 benches/ally_pools.py [BINARY] [WORKDIR]

Prints one markdown table (BENCHMARKS.md and the guide quote it). Rows are the file's own lines,
unchanged: the split only chooses which rows go to which file.

Beside each realized figure, its 95% bootstrap interval: the test pool's accounts (backtest.csv's rows)
resampled with replacement 2,000 times (seed 1), the 2.5th and 97.5th percentiles of the resampled sums.
It says how far a pool of this size could have landed from the same risk by chance alone; a prediction
inside it is not refuted by the pool. A row whose last defaults have fewer than 12 months of data after
them (origin + H + 12 > the panel's 42 months) is marked: their recoveries are not all in the data, so
its realized loss is too high.
"""

import csv
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

PANEL_MONTHS = 42
PANEL = Path(__file__).resolve().parent.parent.parent / "shared/data/regab/ally_2017_3_panel.csv"
BIG_STATES = {"FL", "CA", "TX"}


def split(work: Path) -> dict:
    """Writes the pools; returns {name: (fit file, test file)}."""
    lines = PANEL.read_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    names = next(csv.reader([header]))
    id_at, state_at = names.index("assetNumber"), names.index("obligorGeographicLocation")
    parsed = [next(csv.reader([r])) for r in rows]
    pools = {
        "even ids → odd ids": (
            lambda p: int(p[id_at]) % 2 == 0,
            lambda p: int(p[id_at]) % 2 == 1,
        ),
        "other states → FL, CA, TX": (
            lambda p: p[state_at] not in BIG_STATES,
            lambda p: p[state_at] in BIG_STATES,
        ),
    }
    out = {}
    for n, (name, (fit, test)) in enumerate(pools.items()):
        files = []
        for side, keep in (("fit", fit), ("test", test)):
            path = work / f"pool{n}_{side}.csv"
            path.write_text(header + "".join(r for r, p in zip(rows, parsed) if keep(p)))
            files.append(path)
        out[name] = tuple(files)
    return out


def total(path: Path, column_sets) -> dict:
    rows = list(csv.DictReader(open(path)))
    return {c: rows[-1].get(c, "") for c in column_sets}


def interval(backtest_csv: Path, draws: int = 2000) -> tuple:
    """95% bootstrap intervals of the pool's realized defaults and loss (in cents)."""
    rows = [
        (r["defaulted"] == "true", round(Decimal(r["realized_loss"] or "0") * 100))
        for r in csv.DictReader(open(backtest_csv))
    ]
    rng = random.Random(1)
    n = len(rows)
    sums = []
    for _ in range(draws):
        picked = [rows[rng.randrange(n)] for _ in range(n)]
        sums.append((sum(d for d, _ in picked), sum(c for _, c in picked)))
    lo, hi = int(draws * 0.025), int(draws * 0.975) - 1
    d = sorted(s[0] for s in sums)
    c = sorted(s[1] for s in sums)
    return (d[lo], d[hi]), (Decimal(c[lo]) / 100, Decimal(c[hi]) / 100)


def run(binary: str, *args) -> None:
    subprocess.run([binary, *args, "-q"], check=True)


def main() -> None:
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/underwater"
    work = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/ally_pools")
    work.mkdir(parents=True, exist_ok=True)
    print("| fit → test | fit months | origin, H | accounts | realized defaults [95%] / loss [95%] | lifetime: defaults / loss | flat pd: Σ pd / expected deficiency |")
    print("|---|---|---|---|---|---|---|")
    for name, (fit, test) in split(work).items():
        for fit_months, origins in ((18, [(18, 12), (18, 24)]), (42, [(0, 12), (0, 24), (0, 36)])):
            cal = work / f"cal_{fit.stem}_{fit_months}"
            run(binary, "calibrate", "--tape", "regab", "--loans", str(fit), "--horizon", str(fit_months), "--out", str(cal))
            for start, h in origins:
                out = work / f"bt_{test.stem}_{fit_months}_{start}_{h}"
                run(binary, "backtest", "--tape", "regab", "--loans", str(test), "--horizon", str(h),
                    "--start-month", str(start), "--config", str(cal / "calibrated.toml"), "--out", str(out))
                pd = total(out / "summary_backtest_by_pd.csv", ["accounts", "expected_defaults", "defaults", "predicted_defaults"])
                loss = total(out / "summary_backtest_by_ltv_bucket.csv", ["expected_deficiency", "realized_loss", "predicted_loss"])
                d, real = Decimal(pd["defaults"]), Decimal(loss["realized_loss"])

                def x(v: Decimal, r: Decimal) -> str:
                    return f"{v / r:.2f}×" if r else "-"

                pred_d, pred_l = Decimal(pd["predicted_defaults"]), Decimal(loss["predicted_loss"])
                flat_d, flat_l = Decimal(pd["expected_defaults"]), Decimal(loss["expected_deficiency"])
                (d_lo, d_hi), (l_lo, l_hi) = interval(out / "backtest.csv")
                partial = "" if start + h + 12 <= PANEL_MONTHS else " (recoveries partly after the data)"
                print(
                    f"| {name} | {fit_months} | {start}, {h} | {pd['accounts']} | "
                    f"{d} [{d_lo}–{d_hi}] / ${real:,.0f} [${l_lo:,.0f}–${l_hi:,.0f}]{partial} | "
                    f"{pred_d:.2f} ({x(pred_d, d)}) / ${pred_l:,} ({x(pred_l, real)}) | "
                    f"{flat_d:.2f} ({x(flat_d, d)}) / ${flat_l:,} ({x(flat_l, real)}) |"
                )


if __name__ == "__main__":
    main()
