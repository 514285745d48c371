"""Every exception class, from a bad file, config, column and target: the CLI's message, never a crash."""

from __future__ import annotations

import os
import pathlib

import polars as pl
import pytest

import underwater as uw
from conftest import ROOT


def test_a_missing_file_is_an_input_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(uw.InputError, match="nope.csv") as e:
        uw.run(loans=tmp_path / "nope.csv", valuations=tmp_path / "nope2.csv")
    assert e.value.exit_code == 3


def test_a_missing_column_is_an_input_error_naming_it(tmp_path: pathlib.Path) -> None:
    loans = pl.DataFrame({"account_id": ["A1"], "vin": ["1HGCM82633A004352"]})
    with pytest.raises(uw.InputError, match="current_balance"):
        uw.run(loans, pl.DataFrame({"vin": ["x"], "valuation_date": ["2025-01-01"], "value": ["1"]}))


def test_a_numeric_id_column_is_refused_naming_it_and_the_fix(tmp_path: pathlib.Path) -> None:
    """polars reads ids like 000123 and 123 as one integer: the file's text is lost, so the frame is
    refused rather than read as fewer accounts. A `[columns]` config's id column is the one checked."""
    loans = pl.DataFrame({"account_id": [123, 123], "vin": ["V1", "V2"]})
    with pytest.raises(uw.InputError, match="account_id.*Int64.*schema_overrides") as e:
        uw.run(loans, pl.DataFrame({"vin": ["V1"], "valuation_date": ["2025-01-01"], "value": ["1"]}))
    assert e.value.field == "account_id" and e.value.exit_code == 3
    config = tmp_path / "c.toml"
    config.write_text('[columns]\naccount_id = "LoanNo"\n')
    renamed = loans.rename({"account_id": "LoanNo"})
    with pytest.raises(uw.InputError, match="LoanNo"):
        uw.run(renamed, pl.DataFrame({"vin": ["V1"], "valuation_date": ["2025-01-01"], "value": ["1"]}),
               config=config)


def test_a_bad_config_is_a_config_error(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("recovery_rate = 7\n")
    os.chdir(ROOT)
    with pytest.raises(uw.ConfigError, match="recovery_rate") as e:
        uw.run(loans="data/loans.csv", valuations="data/valuations.csv", config=bad)
    assert e.value.exit_code == 2


def test_a_bad_argument_is_a_config_error() -> None:
    os.chdir(ROOT)
    with pytest.raises(uw.ConfigError, match="2025-13-45"):
        uw.run(loans="data/loans.csv", valuations="data/valuations.csv", as_of="2025-13-45")
    with pytest.raises(uw.ConfigError):
        uw.query("SELECT nope FROM accounts", loans="data/loans.csv", valuations="data/valuations.csv")
    run = uw.run(loans="data/loans.csv", valuations="data/valuations.csv")
    with pytest.raises(uw.ConfigError, match="not one of csv, parquet"):
        run.write("never-written", format="xml")
    assert not os.path.exists("never-written")


def test_an_unsafe_target_is_an_output_error_and_leaves_it_as_it_was(tmp_path: pathlib.Path) -> None:
    os.chdir(ROOT)
    target = tmp_path / "a-file"
    target.write_text("keep me")
    run = uw.run(loans="data/loans.csv", valuations="data/valuations.csv")
    with pytest.raises(uw.OutputError) as e:
        run.write(target)
    assert e.value.exit_code == 4
    assert target.read_text() == "keep me"


def test_guard_rails_raise_their_own_classes(tmp_path: pathlib.Path) -> None:
    os.chdir(ROOT)
    with pytest.raises(uw.RejectRateError, match="max-reject-rate") as e:
        uw.run(loans="data/loans.csv", valuations="data/valuations.csv", max_reject_rate="0")
    assert e.value.exit_code == 5
    with pytest.raises(uw.StaleError) as e:
        uw.run(loans="data/loans.csv", valuations="data/valuations.csv", fail_on_stale=1,
               out=tmp_path / "out")
    assert e.value.exit_code == 6
    assert not (tmp_path / "out").exists()
    assert (tmp_path / "out.failed" / "summary.json").exists()


def test_a_run_read_from_a_directory_cannot_be_written_again(tmp_path: pathlib.Path) -> None:
    os.chdir(ROOT)
    uw.run(loans="data/loans.csv", valuations="data/valuations.csv", out=tmp_path / "out")
    with pytest.raises(uw.ConfigError):
        uw.read_run(tmp_path / "out").write(tmp_path / "again")


def test_a_directory_that_is_not_a_run_is_an_input_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(uw.InputError):
        uw.read_run(tmp_path)


def test_every_class_is_an_underwater_error() -> None:
    for cls in (uw.InternalError, uw.ConfigError, uw.InputError, uw.OutputError,
                uw.RejectRateError, uw.StaleError):
        assert issubclass(cls, uw.UnderwaterError)


def test_an_edited_accounts_file_is_an_input_error(tmp_path: pathlib.Path) -> None:
    os.chdir(ROOT)
    uw.run(loans="data/loans.csv", valuations="data/valuations.csv", out=tmp_path / "out")
    path = tmp_path / "out" / "accounts.csv"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(uw.InputError, match="BLAKE3"):
        uw.read_run(tmp_path / "out")


def test_regression_a_switch_given_a_number_became_a_flag_value() -> None:
    os.chdir(ROOT)
    for bad in (0, 1, "no"):
        with pytest.raises(uw.ConfigError, match="no_outlook= takes True or False") as e:
            uw.run(loans="data/loans.csv", valuations="data/valuations.csv", no_outlook=bad)
        assert e.value.keyword == "no_outlook" and e.value.exit_code == 2


def test_regression_previous_given_a_dataframe_quoted_the_printed_frame_as_a_path() -> None:
    os.chdir(ROOT)
    frame = pl.DataFrame({"a": [1]})
    with pytest.raises(uw.ConfigError, match=r"previous= takes a path .* not DataFrame") as e:
        uw.run(loans="data/loans.csv", valuations="data/valuations.csv", previous=frame)
    assert e.value.keyword == "previous"


def test_regression_loans_given_a_number_raised_polars_type_error() -> None:
    with pytest.raises(uw.ConfigError, match="loans= takes a path .* not int") as e:
        uw.run(loans=5, valuations="data/valuations.csv")
    assert e.value.keyword == "loans"
    with pytest.raises(uw.ConfigError, match="loans= takes a whole number"):
        uw.generate("never-written", "5")


def test_backtest_and_calibrate_raise_the_cli_s_classes(tmp_path: pathlib.Path) -> None:
    os.chdir(ROOT)
    with pytest.raises(uw.InputError, match="nope.csv") as e:
        uw.backtest(loans="data/loans.csv", valuations="data/valuations.csv",
                    outcomes=tmp_path / "nope.csv")
    assert e.value.exit_code == 3
    records = tmp_path / "records.csv"
    records.write_text("account_id,month,balance\nA,2025-07,100\n")
    with pytest.raises(uw.InputError, match="no default rule"):
        uw.calibrate(loans="data/loans.csv", valuations="data/valuations.csv", outcomes=records,
                     as_of="2025-06-30")
    with pytest.raises(uw.ConfigError, match="horizon"):
        uw.calibrate(loans="data/loans.csv", valuations="data/valuations.csv", outcomes=records,
                     horizon="soon")


def test_a_panic_is_an_internal_error(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNDERWATER_TEST_PANIC", "1")
    with pytest.raises(uw.InternalError, match="a bug") as e:
        uw.generate(tmp_path / "g", 10)
    assert e.value.exit_code == 1


def test_exceptions_carry_what_they_name(tmp_path: pathlib.Path) -> None:
    """Attributes a program reads: the class's exit code, the path and field the error names."""
    import underwater._native as native

    assert uw.ConfigError is native.ConfigError and issubclass(uw.StaleError, uw.UnderwaterError)
    assert [c.exit_code for c in (uw.InternalError, uw.ConfigError, uw.InputError, uw.OutputError,
                                  uw.RejectRateError, uw.StaleError)] == [1, 2, 3, 4, 5, 6]
    loans = tmp_path / "loans.csv"
    loans.write_text("account_id,vin\nA1,V1\n")
    with pytest.raises(uw.InputError) as e:
        uw.run(loans=loans, valuations=loans)
    assert e.value.path == str(loans)
    assert e.value.field is not None and "current_balance" in e.value.field
    assert e.value.line is None and e.value.keyword is None
    bad = tmp_path / "bad.toml"
    bad.write_text("recovery_rate = 7\n")
    os.chdir(ROOT)
    with pytest.raises(uw.ConfigError) as e:
        uw.run(loans="data/loans.csv", valuations="data/valuations.csv", config=bad)
    assert (e.value.path, e.value.field) == (str(bad), "recovery_rate")


def test_every_flag_of_the_cli_has_its_keyword_argument() -> None:
    """Each command's flags, read from the CLI's own --help, against the Python function's keywords;
    the few that have no keyword say why here."""
    import inspect
    import re
    import subprocess

    from conftest import cli_path

    because = {
        "quiet": "progress= (its opposite)",
        "help": "help() of the function",
        "version": "underwater.VERSION",
        "output": "query returns its answer as a DataFrame",
        "format_query": "query returns its answer as a DataFrame",
        "run_query": "runs= (several runs)",
    }
    functions = {"run": uw.run, "query": uw.query, "backtest": uw.backtest,
                 "calibrate": uw.calibrate, "generate": uw.generate}
    for command, function in functions.items():
        text = subprocess.run([str(cli_path()), command, "--help"], capture_output=True, text=True,
                              check=True).stdout
        flags = sorted(set(re.findall(r"^\s+(?:-\w, )?--([a-z][a-z-]*)", text, re.M)))
        assert len(flags) >= 5, text
        keywords = set(inspect.signature(function).parameters)
        for flag in flags:
            name = flag.replace("-", "_")
            if name in keywords or name in because or f"{name}_{command}" in because:
                continue
            raise AssertionError(f"`underwater {command} --{flag}` has no keyword in uw.{command}()")
