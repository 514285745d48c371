"""The machine's I/O floor for the job: polars reads both CSVs (all cores) and writes one CSV about the size of
underwater's accounts.csv (every loan column twice over), nothing else. No job that reads these files and writes
an accounts file can be faster.

usage: python io_floor.py LOANS VALUATIONS OUTDIR
"""
import os
import sys

import polars as pl

loans, vals, out = sys.argv[1:4]
L = pl.read_csv(loans, infer_schema=False)
V = pl.read_csv(vals, infer_schema=False)
wide = pl.concat([L, L.rename({c: c + "_2" for c in L.columns})], how="horizontal")
path = f"{out}/accounts.csv"
wide.write_csv(path)
print(f"read {L.height} + {V.height} rows, wrote {os.path.getsize(path)} bytes", file=sys.stderr)
