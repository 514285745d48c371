"""The underwater job as an analyst writes it in polars' lazy API: read both CSVs, take each VIN's latest
valuation on or before as_of (ties: lowest value, then lowest source), Decimal money, carry every loan column,
write accounts and the LTV summary. No rejects, segments or manifest (underwater does those too).

usage: python polars_job.py LOANS VALUATIONS AS_OF OUTDIR
"""
import sys
from datetime import date

import polars as pl

loans, vals, as_of, out = sys.argv[1:5]
as_of = date.fromisoformat(as_of)
money = pl.Decimal(18, 4)
L = pl.scan_csv(loans, schema_overrides={"account_id": pl.String, "vin": pl.String,
                                         "current_balance": money, "amount_financed": money,
                                         "days_past_due": pl.Int64})
V = pl.scan_csv(vals, schema_overrides={"vin": pl.String, "valuation_date": pl.Date, "value": money,
                                        "source": pl.String})
best = (V.filter(pl.col("valuation_date") <= as_of)
        .sort(["vin", "valuation_date", "value", "source"], descending=[False, True, False, False])
        .group_by("vin", maintain_order=False).first())
bal, val = pl.col("current_balance"), pl.col("value")
band = (pl.when(val.is_null()).then(pl.lit("no_value"))
        .when(bal * 100 <= val * 80).then(pl.lit("<=80"))
        .when(bal * 100 <= val * 100).then(pl.lit("80-100"))
        .when(bal * 100 <= val * 120).then(pl.lit("100-120"))
        .when(bal * 100 <= val * 140).then(pl.lit("120-140"))
        .otherwise(pl.lit(">140")))
dpd = pl.col("days_past_due").fill_null(0)
pd = (pl.when(dpd >= 90).then(pl.lit(0.65)).when(dpd >= 60).then(pl.lit(0.35))
      .when(dpd >= 30).then(pl.lit(0.15)).when(dpd >= 1).then(pl.lit(0.05)).otherwise(pl.lit(0.02))
      .cast(pl.Decimal(18, 2)))
net = pl.max_horizontal(val * pl.lit(0.85).cast(pl.Decimal(18, 2)) - 1000, pl.lit(0)).fill_null(0)
acc = (L.join(best.rename({"valuation_date": "value_date"}), on="vin", how="left")
       .with_columns(
           negative_equity=pl.max_horizontal(bal - val, pl.lit(0)).round(2),
           ltv=(bal.cast(pl.Decimal(24, 8)) / val).round(4),
           ltv_bucket=band, pd=pd, net_recovery=net.round(2))
       .with_columns(deficiency_if_default=pl.max_horizontal(bal - pl.col("net_recovery"), pl.lit(0)).round(2))
       .with_columns(expected_deficiency=(pl.col("pd") * pl.col("deficiency_if_default")).round(2))
       .sort("account_id"))
acc = acc.collect()
acc.write_csv(f"{out}/accounts.csv")
(acc.group_by("ltv_bucket")
    .agg(accounts=pl.len(), balance=bal.round(2).sum(), value=val.round(2).sum(),
         underwater_accounts=(pl.col("negative_equity") > 0).sum(),
         negative_equity=pl.col("negative_equity").sum(),
         deficiency_if_default=pl.col("deficiency_if_default").sum(),
         expected_deficiency=pl.col("expected_deficiency").sum())
    .sort("ltv_bucket").write_csv(f"{out}/summary_by_ltv_bucket.csv"))
