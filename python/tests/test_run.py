"""The package's run against the CLI's files, cell for cell, and against books worked by hand."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from decimal import Decimal

import polars as pl
import pytest

import underwater as uw
from conftest import DATA, ROOT, SHARED, cannot_run, cli, csv_cells, summary_without_clock


def cell_text(value: object) -> str:
    """A DataFrame cell as accounts.csv writes it (an independent formatting: Decimal keeps its scale,
    dates ISO, a missing value empty)."""
    if value is None:
        return ""
    if isinstance(value, (dt.date, Decimal, int)):
        return str(value)
    return str(value)


def unneutralized(text: str) -> str:
    """accounts.csv's cell as it went in: a leading quote protects text starting with = + - @ tab CR '."""
    return text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@", "\t", "\r", "'") else text


def assert_same_as_cli(run: uw.Run, out: pathlib.Path) -> None:
    """Every cell of run.accounts is the text of accounts.csv; every table, rejects.csv and summary.json
    (but its two timestamps) are the CLI's bytes."""
    header, rows = csv_cells((out / "accounts.csv").read_bytes())
    assert run.accounts.columns == header
    assert run.accounts.height == len(rows)
    for name, column in zip(header, run.accounts.iter_columns()):
        want = [unneutralized(r[header.index(name)]) for r in rows]
        if isinstance(column.dtype, pl.Decimal):
            # A loan's own decimal column keeps its text in the CSV (a tape's `36115.5`) and its value
            # in the frame (`36115.50` at the column's scale): the numbers must be equal.
            want_values = [Decimal(w) if w else None for w in want]
            assert column.to_list() == want_values, f"column {name} differs from the CLI's accounts.csv"
            continue
        got = [cell_text(v) for v in column.to_list()]
        assert got == want, f"column {name} differs from the CLI's accounts.csv"
    cli_files = {p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert set(run.files) | {"accounts.csv"} == cli_files
    for name, data in run.files.items():
        if name.endswith(".csv"):
            assert data == (out / name).read_bytes(), f"{name} differs from the CLI's"
    ours = summary_without_clock(run.files["summary.json"])
    theirs = summary_without_clock((out / "summary.json").read_bytes())
    ours["manifest"]["inputs"] = theirs["manifest"]["inputs"] = None  # paths differ, checked below
    assert ours == theirs


def test_run_equals_the_cli_on_the_sample_book(sample_cli_run: pathlib.Path) -> None:
    os.chdir(ROOT)
    run = uw.run(loans="data/loans.csv", valuations="data/valuations.csv", config="data/example.toml")
    assert_same_as_cli(run, sample_cli_run)
    # The typed summary: Decimal money that reconciles to the accounts to the cent.
    p = run.summary.portfolio
    assert isinstance(p.negative_equity, Decimal)
    assert p.negative_equity == sum(run.accounts["negative_equity"].drop_nulls().to_list(), Decimal(0))
    assert run.summary.manifest.as_of == dt.date(2025, 6, 30)
    assert run.summary.manifest.inputs.loans.rows_read == 4008


def test_run_equals_the_cli_on_a_dirty_book(tmp_path: pathlib.Path) -> None:
    uw.generate(tmp_path / "book", 3000, seed=7, dirty=True)
    book = tmp_path / "book"
    cli("run", "--loans", str(book / "loans.csv"), "--valuations", str(book / "valuations.csv"),
        "--out", str(tmp_path / "cli"), "-q")
    run = uw.run(loans=book / "loans.csv", valuations=book / "valuations.csv")
    assert run.rejects.height > 0
    assert_same_as_cli(run, tmp_path / "cli")
    m = run.summary.manifest.inputs
    assert m.loans.rows_read == m.loans.rows_accepted + m.loans.rows_rejected


def test_run_equals_the_cli_on_the_world_omni_tape(tmp_path: pathlib.Path) -> None:
    tape = SHARED / "regab" / "world_omni_2020_07.csv"
    if not tape.exists():
        cannot_run("../shared/data/regab/world_omni_2020_07.csv is absent")
    cli("run", "--tape", "regab", str(tape), "--out", str(tmp_path / "cli"), "-q")
    run = uw.run(loans=tape, tape="regab")
    assert_same_as_cli(run, tmp_path / "cli")


def test_a_book_worked_by_hand() -> None:
    """Owes 19,000 on a car worth 15,500: 3,500 underwater; at 85% recovery and a 1,000 cost the sale
    nets 12,175, so 6,825 is still owed; at pd 0.02 that is 136.50 expected."""
    loans = pl.DataFrame({
        "account_id": ["H1", "H2"], "vin": ["1HGCM82633A004352", "1HGCM82633A004353"],
        "origination_date": ["2023-01-15", "2023-01-15"], "amount_financed": ["25000.00", "20000.00"],
        "term_months": ["72", "72"], "current_balance": ["19000.00", "10000.00"],
        "days_past_due": ["0", "0"],
    })
    valuations = pl.DataFrame({
        "vin": ["1HGCM82633A004352", "1HGCM82633A004353"],
        "valuation_date": ["2025-06-01", "2025-06-01"], "value": ["15500.00", "12000.00"],
    })
    run = uw.run(loans, valuations, as_of="2025-06-30", no_outlook=True)
    a = run.accounts.sort("account_id")
    assert a["negative_equity"].to_list() == [Decimal("3500.00"), Decimal("0.00")]
    assert a["net_recovery"].to_list()[0] == Decimal("12175.00")
    assert a["deficiency_if_default"].to_list()[0] == Decimal("6825.00")
    assert a["expected_deficiency"].to_list()[0] == Decimal("136.50")
    assert run.summary.portfolio.negative_equity == Decimal("3500.00")
    assert run.summary.portfolio.underwater_accounts == 1


@pytest.mark.parametrize("typed", [False, True], ids=["text", "inferred"])
def test_dataframe_input_equals_path_input(tmp_path: pathlib.Path, typed: bool) -> None:
    book = uw.generate(tmp_path / "book", 2000, seed=3)
    by_path = uw.run(loans=book / "loans.csv", valuations=book / "valuations.csv")
    read = (lambda p: pl.read_csv(p)) if typed else (lambda p: pl.read_csv(p, infer_schema=False))
    by_frame = uw.run(loans=read(book / "loans.csv"), valuations=read(book / "valuations.csv").lazy())
    assert by_frame.accounts.equals(by_path.accounts)
    for name, table in by_path.tables.items():
        assert by_frame.tables[name].equals(table), name
    assert by_frame.summary.portfolio == by_path.summary.portfolio


@pytest.mark.parametrize("format", ["csv", "parquet"])
def test_write_and_read_run_give_back_the_same_run(tmp_path: pathlib.Path, format: str) -> None:
    os.chdir(ROOT)
    run = uw.run(loans="data/loans.csv", valuations="data/valuations.csv", config="data/example.toml")
    run.write(tmp_path / "out", format=format)
    back = uw.read_run(tmp_path / "out")
    assert back.accounts.equals(run.accounts)
    assert back.tables.keys() == run.tables.keys()
    for name, table in run.tables.items():
        assert back.tables[name].equals(table), name
    assert back.rejects.equals(run.rejects)
    assert back.summary.portfolio == run.summary.portfolio


def test_run_with_out_publishes_what_the_cli_publishes(tmp_path: pathlib.Path,
                                                       sample_cli_run: pathlib.Path) -> None:
    os.chdir(ROOT)
    uw.run(loans="data/loans.csv", valuations="data/valuations.csv", config="data/example.toml",
           out=tmp_path / "out")
    for name in ("accounts.csv", "rejects.csv", "summary_by_ltv_bucket.csv", "summary_runoff.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (sample_cli_run / name).read_bytes(), name


def test_query_sums_to_the_cent(sample_cli_run: pathlib.Path) -> None:
    answer = uw.query("SELECT state, SUM(negative_equity) AS ne FROM accounts GROUP BY state",
                      runs=sample_cli_run)
    header, rows = csv_cells((sample_cli_run / "accounts.csv").read_bytes())
    state, ne = header.index("state"), header.index("negative_equity")
    want: dict[str, Decimal] = {}
    for r in rows:
        if r[ne]:
            want[r[state]] = want.get(r[state], Decimal(0)) + Decimal(r[ne])
    got = dict(zip(answer["state"].to_list(), answer["ne"].to_list()))
    assert got == want
    by = uw.query(runs=sample_cli_run, by="new_used")
    assert by["new_used"].to_list()[-1] == "TOTAL"


def test_generate_writes_a_book(tmp_path: pathlib.Path) -> None:
    out = uw.generate(tmp_path / "g", 100, seed=1, outcome_months=6)
    assert {"loans.csv", "valuations.csv", "outcomes.csv"} <= {p.name for p in out.iterdir()}
    assert len((out / "loans.csv").read_text().splitlines()) == 101


LOANS_CSV = """account_id,vin,origination_date,amount_financed,term_months,current_balance,days_past_due
T1,1HGCM82633A004352,2023-01-15,25000.00,72,19000.5,0
T2,1HGCM82633A004353,2023-02-01,20000.00,60,10000.25,
T3,1HGCM82633A004354,2022-11-30,18000.50,48,9000.0,35
T1,1HGCM82633A004355,2023-01-15,15000.00,72,12000.0,0
T4,"2HGCM82633A00435,6",2023-03-01,30000.00,72,28000.75,0
"""
VALUATIONS_CSV = """vin,valuation_date,value
1HGCM82633A004352,2025-06-01,15500.1
1HGCM82633A004353,2025-06-01,
1HGCM82633A004354,2025-05-01,34974.52
"""


def test_typed_dataframes_are_read_in_memory_as_the_cli_reads_their_text(
        tmp_path: pathlib.Path) -> None:
    """Frames typed as a warehouse or Parquet types them (dates, decimals, integers, floats, nulls)
    give the CLI's cells on a CSV holding their text, and the same rejects, naming the frame and the
    row's index in it (the CSV's line - 2): no CSV is written for them."""
    (tmp_path / "loans.csv").write_text(LOANS_CSV)
    (tmp_path / "valuations.csv").write_text(VALUATIONS_CSV)
    cli("run", "--loans", str(tmp_path / "loans.csv"), "--valuations",
        str(tmp_path / "valuations.csv"), "--as-of", "2025-06-30", "--out", str(tmp_path / "cli"), "-q")
    loans = pl.DataFrame({
        "account_id": ["T1", "T2", "T3", "T1", "T4"],
        "vin": ["1HGCM82633A004352", "1HGCM82633A004353", "1HGCM82633A004354", "1HGCM82633A004355",
                "2HGCM82633A00435,6"],
        "origination_date": [dt.date(2023, 1, 15), dt.date(2023, 2, 1), dt.date(2022, 11, 30),
                             dt.date(2023, 1, 15), dt.date(2023, 3, 1)],
        "amount_financed": pl.Series([Decimal("25000.00"), Decimal("20000.00"), Decimal("18000.50"),
                                      Decimal("15000.00"), Decimal("30000.00")],
                                     dtype=pl.Decimal(38, 2)),
        "term_months": [72, 60, 48, 72, 72],
        "current_balance": [19000.5, 10000.25, 9000.0, 12000.0, 28000.75],
        "days_past_due": [0, None, 35, 0, 0],
    })
    valuations = pl.DataFrame({
        "vin": ["1HGCM82633A004352", "1HGCM82633A004353", "1HGCM82633A004354"],
        "valuation_date": [dt.date(2025, 6, 1)] * 2 + [dt.date(2025, 5, 1)],
        "value": [15500.1, None, 34974.52],
    })
    run = uw.run(loans, valuations, as_of="2025-06-30")
    header, rows = csv_cells((tmp_path / "cli" / "accounts.csv").read_bytes())
    assert run.accounts.columns == header
    for name, column in zip(header, run.accounts.iter_columns()):
        want = [r[header.index(name)] for r in rows]
        if isinstance(column.dtype, pl.Decimal):
            assert column.to_list() == [Decimal(w) if w else None for w in want], name
        else:
            assert [cell_text(v) for v in column.to_list()] == want, name
    for name, data in run.files.items():
        if name.startswith("summary_") and name.endswith(".csv"):
            assert data == (tmp_path / "cli" / name).read_bytes(), name
    _, cli_rejects = csv_cells((tmp_path / "cli" / "rejects.csv").read_bytes())
    got = run.rejects.rows()
    assert len(got) == len(cli_rejects) == 3
    for ours, theirs in zip(got, cli_rejects):
        file, line, field, reason, raw = theirs
        name = pathlib.Path(file).stem
        # A repeated id's reason names its rows as the line column does.
        reason = reason.replace(file, name).replace("(lines 2, 5)", "(lines 0, 3)")
        assert ours == (name, int(line) - 2, field, reason, raw), ours
