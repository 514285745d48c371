"""The package's backtest and calibrate: the CLI's files, as frames and typed records."""

from __future__ import annotations

import pathlib
from decimal import Decimal

import underwater as uw
from conftest import SHARED, cannot_run, cli, csv_cells, summary_without_clock


def test_backtest_on_the_ally_panel_equals_the_cli(tmp_path: pathlib.Path) -> None:
    panel = SHARED / "regab" / "ally_2017_3_panel.csv"
    if not panel.exists():
        cannot_run("../shared/data/regab/ally_2017_3_panel.csv is absent")
    cli("backtest", "--tape", "regab", str(panel), "--out", str(tmp_path / "cli"), "-q")
    bt = uw.backtest(loans=panel, tape="regab", horizon=12)
    for name in ("backtest.csv", "summary_backtest_by_pd.csv", "outcome_rejects.csv"):
        assert bt.files[name] == (tmp_path / "cli" / name).read_bytes(), name
    assert summary_without_clock(bt.files["summary.json"]) == summary_without_clock(
        (tmp_path / "cli" / "summary.json").read_bytes())
    # Every loan accounted for, and the TOTAL row's realized defaults are the per-account file's.
    header, rows = csv_cells(bt.files["backtest.csv"])
    assert bt.accounts.height == len(rows) == 2171
    by_pd = bt.tables["summary_backtest_by_pd"]
    total = by_pd.row(by_pd.height - 1, named=True)
    status = header.index("status")
    assert total["defaults"] == sum(1 for r in rows if r[status] == "defaulted") == 20


def test_calibrate_on_a_generated_history(tmp_path: pathlib.Path) -> None:
    book = uw.generate(tmp_path / "book", 20000, seed=5, outcome_months=12)
    # The generator books each sale in its default month: every default has recovered.
    cal = uw.calibrate(loans=book / "loans.csv", valuations=book / "valuations.csv",
                       outcomes=book / "outcomes.csv", as_of="2025-06-30", out=tmp_path / "cal",
                       recovery_months=0)
    assert "recovery_rate" in cal["toml"]
    assert (tmp_path / "cal" / "calibrated.toml").read_text() == cal["toml"]
    # The generator's truth: sale = 0.60 x value - 600 (+-300): the fitted rate is near 0.60.
    rate = cal["calibration"].recovery.recovery_rate_after
    assert isinstance(rate, Decimal) and abs(rate - Decimal("0.60")) < Decimal("0.05")


def test_calibrate_s_table_is_the_cli_s_and_run_takes_it(tmp_path: pathlib.Path) -> None:
    book = uw.generate(tmp_path / "book", 5000, seed=11, outcome_months=12)
    outcomes = (book / "outcomes.csv").read_text().splitlines()
    assert len(outcomes) > 5000, "the generator wrote outcome records"
    args = ["--loans", str(book / "loans.csv"), "--valuations", str(book / "valuations.csv"),
            "--outcomes", str(book / "outcomes.csv"), "--as-of", "2025-06-30"]
    cli("calibrate", *args, "--out", str(tmp_path / "cli"), "-q")
    cal = uw.calibrate(loans=book / "loans.csv", valuations=book / "valuations.csv",
                       outcomes=book / "outcomes.csv", as_of="2025-06-30")
    assert cal["toml"] == (tmp_path / "cli" / "calibrated.toml").read_text()
    # The written pd table never falls, and a run takes it.
    table = next(line for line in cal["toml"].splitlines() if line.startswith("pd_by_days_past_due"))
    pds = [Decimal(pair.split(",")[1].strip(" ]")) for pair in table.split("=")[1].split("],")]
    assert pds == sorted(pds) and len(pds) == 5
    (tmp_path / "calibrated.toml").write_text(cal["toml"])
    uw.run(loans=book / "loans.csv", valuations=book / "valuations.csv", as_of="2025-06-30",
           config=tmp_path / "calibrated.toml")


def test_backtest_of_dataframe_outcomes_and_of_a_finished_run(tmp_path: pathlib.Path) -> None:
    import polars as pl

    book = uw.generate(tmp_path / "book", 2000, seed=3, outcome_months=6)
    loans, valuations = book / "loans.csv", book / "valuations.csv"
    by_path = uw.backtest(loans=loans, valuations=valuations, outcomes=book / "outcomes.csv",
                          as_of="2025-06-30", horizon=6)
    frame = pl.read_csv(book / "outcomes.csv", infer_schema=False)
    by_frame = uw.backtest(loans=loans, valuations=valuations, outcomes=frame, as_of="2025-06-30",
                           horizon=6)
    assert by_frame.files["backtest.csv"] == by_path.files["backtest.csv"]
    assert by_path.summary.accounts.by_status["defaulted"] > 0
    # A finished run as the book: the same backtest.
    uw.run(loans=loans, valuations=valuations, as_of="2025-06-30", out=tmp_path / "run")
    of_run = uw.backtest(run=tmp_path / "run", outcomes=book / "outcomes.csv", horizon=6)
    assert of_run.files["backtest.csv"] == by_path.files["backtest.csv"]
