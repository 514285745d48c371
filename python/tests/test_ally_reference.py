"""The Ally 2017-3 backtest recomputed apart from underwater: the raw panel read with Python's csv
module, the guide's default rules walked by this file's own code, exact decimals, and every account's
outcome, every pd class's count and the loss totals compared with what the CLI wrote."""

from __future__ import annotations

import csv
import json
import pathlib
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from conftest import SHARED, cannot_run, cli, csv_cells

PANEL = SHARED / "regab" / "ally_2017_3_panel.csv"
MISSING = ("", "NA")
CENT = Decimal("0.01")


def amount(text: str) -> Decimal | None:
    text = text.strip()
    return None if text in MISSING else Decimal(text)


def pd_of(days_past_due: int) -> Decimal:
    """The default config's pd table (docs/GUIDE.md)."""
    table = [(0, "0.02"), (1, "0.05"), (30, "0.15"), (60, "0.35"), (90, "0.65")]
    return Decimal([pd for day, pd in table if days_past_due >= day][-1])


def walk(row: dict[str, str], months: int, horizon: int) -> tuple:
    """(status, default month, rule, balance at default, recoveries, loss) by the guide's rules."""
    balance = Decimal(row["reportingPeriodActualEndBalanceAmount"])
    if balance <= 0:
        return ("closed_at_as_of", "", "", "", "", "")
    fields = [{f: amount(row[f"{f}{k}"]) for f in ("BAL", "PRC", "PMT", "REC", "REP")}
              for k in range(1, months + 1)]
    paid0 = amount(row["totalActualAmountPaid"])
    unpaid = 1 if paid0 is None or paid0 <= 0 else 0
    previous = balance
    for k in range(1, min(horizon, months) + 1):
        m = fields[k - 1]
        unpaid = 0 if (m["PMT"] or 0) > 0 else unpaid + 1
        rule = None
        if (m["REC"] or 0) != 0 or (m["REP"] or 0) != 0:
            rule = "charge_off"
        elif m["BAL"] is not None:
            if m["BAL"] <= 0 and (m["PRC"] or 0) < previous - 10:
                rule = "written_off"
            elif unpaid >= 3 and not any((later["PMT"] or 0) > 0 for later in fields[k:]):
                rule = "dpd_90"
        if rule:
            recovered = sum(((f["REC"] or 0) + (f["REP"] or 0) for f in fields[k - 1:]), Decimal(0))
            at_default = previous.quantize(CENT, ROUND_HALF_EVEN)
            recovered = recovered.quantize(CENT, ROUND_HALF_EVEN)
            loss = max(at_default - recovered, Decimal("0.00"))
            return ("defaulted", str(k), rule, at_default, recovered, loss)
        if m["BAL"] is None:
            return ("left_pool", "", "", "", "", "")
        if m["BAL"] <= 0:
            return ("paid_off", "", "", "", "", "")
        previous = m["BAL"]
    return ("performing", "", "", "", "", "")


def auc(scored: list[tuple[Decimal, bool]]) -> Decimal:
    """Mann-Whitney over every (default, non-default) pair, ties counting half, rounded to 4 places."""
    defaults = [s for s, d in scored if d]
    others = [s for s, d in scored if not d]
    wins = sum(Fraction(1) if a > b else Fraction(1, 2) if a == b else Fraction(0)
               for a in defaults for b in others)
    exact = wins / (len(defaults) * len(others))
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal("0.0001"), ROUND_HALF_EVEN)


def test_the_ally_backtest_equals_a_reference_walked_apart(tmp_path: pathlib.Path) -> None:
    if not PANEL.exists():
        cannot_run("../shared/data/regab/ally_2017_3_panel.csv is absent")
    with open(PANEL, newline="") as f:
        rows = list(csv.DictReader(f))
    months = max(int(name[3:]) for name in rows[0] if name.startswith("BAL") and name[3:].isdigit())
    assert months == 43
    for horizon in (12, 24):
        out = tmp_path / f"bt{horizon}"
        cli("backtest", "--tape", "regab", str(PANEL), "--horizon", str(horizon), "--out", str(out),
            "-q")
        header, lines = csv_cells((out / "backtest.csv").read_bytes())
        got = {line[header.index("account_id")]: line for line in lines}
        want = {row["assetNumber"]: walk(row, months, horizon) for row in rows}
        assert len(got) == len(want) == 2171
        columns = ["status", "default_month", "default_rule", "balance_at_default", "recoveries",
                   "realized_loss"]
        for account, expected in want.items():
            cells = tuple(got[account][header.index(c)] for c in columns)
            assert cells == tuple(str(e) for e in expected), account

        # Per pd class: accounts open at as_of, and their defaults; the TOTAL.
        classes: dict[Decimal, list[int]] = {}
        for row in rows:
            status = want[row["assetNumber"]][0]
            if status == "closed_at_as_of":
                continue
            tally = classes.setdefault(pd_of(int(row["currentDelinquencyStatus"])), [0, 0])
            tally[0] += 1
            tally[1] += status == "defaulted"
        summary = json.loads((out / "summary.json").read_bytes())
        table = [(r["pd"], r["accounts"], r["defaults"]) for r in summary["by_pd"]]
        expected_table = [(str(pd), n, d) for pd, (n, d) in sorted(classes.items())]
        expected_table.append(("TOTAL", sum(n for n, _ in classes.values()),
                               sum(d for _, d in classes.values())))
        assert table == expected_table

        # The loss totals and the AUC of pd.
        defaulted = [w for w in want.values() if w[0] == "defaulted"]
        total = summary["by_ltv_bucket"][-1]
        assert Decimal(total["realized_loss"]) == sum(w[5] for w in defaulted)
        assert Decimal(total["balance_at_default"]) == sum(w[3] for w in defaulted)
        assert Decimal(total["recoveries"]) == sum(w[4] for w in defaulted)
        statuses: dict[str, int] = {}
        for w in want.values():
            statuses[w[0]] = statuses.get(w[0], 0) + 1
        assert summary["accounts"]["by_status"] == dict(sorted(statuses.items()))
        scored = [(pd_of(int(row["currentDelinquencyStatus"])), want[row["assetNumber"]][0] == "defaulted")
                  for row in rows if want[row["assetNumber"]][0] != "closed_at_as_of"]
        assert Decimal(summary["auc_pd"]) == auc(scored)
