"""The underwater job done the way an analyst would in DuckDB SQL: read both CSVs, take each VIN's latest
valuation on or before as_of (ties: lowest value), DECIMAL arithmetic, write accounts and the LTV summary.

usage: python duckdb_job.py LOANS VALUATIONS AS_OF OUTDIR
"""
import sys

import duckdb

loans, vals, as_of, out = sys.argv[1:5]
con = duckdb.connect()
con.execute(f"""
CREATE TEMP TABLE loans AS SELECT * FROM read_csv('{loans}', header=true,
  types={{'account_id':'VARCHAR','vin':'VARCHAR','current_balance':'DECIMAL(18,4)','days_past_due':'INTEGER'}});
CREATE TEMP TABLE vals AS SELECT * FROM read_csv('{vals}', header=true,
  types={{'vin':'VARCHAR','valuation_date':'DATE','value':'DECIMAL(18,4)','source':'VARCHAR'}});
CREATE TEMP TABLE best AS
  SELECT vin, valuation_date, value, source FROM (
    SELECT *, row_number() OVER (PARTITION BY vin ORDER BY valuation_date DESC, value ASC, source ASC) AS rn
    FROM vals WHERE valuation_date <= DATE '{as_of}') WHERE rn = 1;
CREATE TEMP TABLE accounts AS
  SELECT l.account_id, l.vin, l.current_balance AS balance, b.value, b.valuation_date AS value_date,
    greatest(l.current_balance - b.value, 0) AS negative_equity,
    round(l.current_balance / b.value, 4) AS ltv,
    CASE WHEN b.value IS NULL THEN 'no_value'
         WHEN l.current_balance * 100 <= 80 * b.value THEN '<=80'
         WHEN l.current_balance * 100 <= 100 * b.value THEN '80-100'
         WHEN l.current_balance * 100 <= 120 * b.value THEN '100-120'
         WHEN l.current_balance * 100 <= 140 * b.value THEN '120-140'
         ELSE '>140' END AS ltv_bucket,
    greatest(coalesce(b.value * 0.85 - 1000, 0), 0) AS net_recovery,
    CASE WHEN coalesce(l.days_past_due, 0) >= 90 THEN 0.65 WHEN l.days_past_due >= 60 THEN 0.35
         WHEN l.days_past_due >= 30 THEN 0.15 WHEN l.days_past_due >= 1 THEN 0.05 ELSE 0.02 END AS pd
  FROM loans l LEFT JOIN best b USING (vin);
""")
con.execute(f"""
COPY (SELECT *, round(greatest(balance - net_recovery, 0), 2) AS deficiency_if_default,
        round(pd * greatest(balance - net_recovery, 0), 2) AS expected_deficiency
      FROM accounts ORDER BY account_id) TO '{out}/accounts.csv' (HEADER);
COPY (SELECT ltv_bucket, count(*) AS accounts, sum(round(balance, 2)) AS balance,
        sum(round(value, 2)) AS value, count(*) FILTER (WHERE negative_equity > 0) AS underwater_accounts,
        sum(round(negative_equity, 2)) AS negative_equity,
        sum(round(greatest(balance - net_recovery, 0), 2)) AS deficiency_if_default,
        sum(round(pd * greatest(balance - net_recovery, 0), 2)) AS expected_deficiency
      FROM accounts GROUP BY ltv_bucket ORDER BY ltv_bucket) TO '{out}/summary_by_ltv_bucket.csv' (HEADER);
""")
