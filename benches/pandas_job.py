"""The underwater job done the way an analyst would in pandas (float64 money, as pandas reads it):
latest valuation per VIN on or before as_of (ties: lowest value), figures, accounts file, LTV summary.

usage: python pandas_job.py LOANS VALUATIONS AS_OF OUTDIR
"""
import sys

import numpy as np
import pandas as pd

loans_path, vals_path, as_of, out = sys.argv[1:5]
loans = pd.read_csv(loans_path, dtype={"account_id": str, "vin": str})
vals = pd.read_csv(vals_path, dtype={"vin": str, "source": str}, parse_dates=["valuation_date"])
vals = vals[vals["valuation_date"] <= pd.Timestamp(as_of)]
vals = vals.sort_values(["vin", "valuation_date", "value"], ascending=[True, False, True])
best = vals.drop_duplicates("vin", keep="first")
a = loans.merge(best, on="vin", how="left")
bal, val = a["current_balance"], a["value"]
a["negative_equity"] = np.where(val.notna(), np.maximum(bal - val, 0), np.nan)
a["ltv"] = (bal / val).round(4)
ratio = bal * 100 / val
a["ltv_bucket"] = np.select(
    [val.isna(), ratio <= 80, ratio <= 100, ratio <= 120, ratio <= 140],
    ["no_value", "<=80", "80-100", "100-120", "120-140"], ">140")
net = np.maximum((val * 0.85 - 1000).fillna(0), 0)
a["net_recovery"] = net.round(2)
dpd = a["days_past_due"].fillna(0)
pd_ = np.select([dpd >= 90, dpd >= 60, dpd >= 30, dpd >= 1], [0.65, 0.35, 0.15, 0.05], 0.02)
a["deficiency_if_default"] = np.maximum(bal - net, 0).round(2)
a["expected_deficiency"] = (pd_ * np.maximum(bal - net, 0)).round(2)
a["underwater"] = a["negative_equity"] > 0
a.sort_values("account_id").to_csv(f"{out}/accounts.csv", index=False)
s = a.groupby("ltv_bucket").agg(
    accounts=("account_id", "size"), balance=("current_balance", lambda x: x.round(2).sum()),
    value=("value", lambda x: x.round(2).sum()), underwater_accounts=("underwater", "sum"),
    negative_equity=("negative_equity", lambda x: x.round(2).sum()),
    deficiency_if_default=("deficiency_if_default", "sum"), expected_deficiency=("expected_deficiency", "sum"))
s.to_csv(f"{out}/summary_by_ltv_bucket.csv")
