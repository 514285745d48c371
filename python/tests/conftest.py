"""Shared by the package's tests: the CLI binary they compare against, and the rule for tests that
cannot run here (they fail unless UNDERWATER_ALLOW_SKIP says skipping is intended, as in the Rust tests)."""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "data"


def cli_path() -> pathlib.Path:
    """The CLI built by the same test command (tests/all.sh sets UNDERWATER_BIN)."""
    path = os.environ.get("UNDERWATER_BIN")
    if path:
        return pathlib.Path(path)
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return pathlib.Path(target) / "release" / "underwater"


def cli(*args: str, cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess[str]:
    """Runs the CLI; fails the test when it exits non-zero."""
    done = subprocess.run([str(cli_path()), *args], capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, f"underwater {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done


def cannot_run(why: str, scope: str = "shared") -> None:
    """Skips a test that cannot run here only when skipping is declared; otherwise fails it."""
    allowed = os.environ.get("UNDERWATER_ALLOW_SKIP", "")
    if allowed not in ("1", scope):
        pytest.fail(f"cannot run: {why}. Set UNDERWATER_ALLOW_SKIP={scope} to skip it on purpose")
    log = os.environ.get("UNDERWATER_SKIP_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"python: {why}\n")
    pytest.skip(why)


def csv_cells(data: bytes) -> tuple[list[str], list[list[str]]]:
    """A CSV file's header and rows as the text of each cell (what a spreadsheet would show)."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def summary_without_clock(data: bytes) -> dict:
    """summary.json without the two timestamps, which differ between any two runs, and the digest of
    the written per-account file (a run held in Python has written none)."""
    summary = json.loads(data)
    for key in ("started_at", "finished_at", "accounts_blake3"):
        summary["manifest"].pop(key, None)
    return summary


@pytest.fixture(scope="session")
def sample_cli_run(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The CLI's run of the sample book in data/ (CSV accounts)."""
    out = tmp_path_factory.mktemp("cli") / "out"
    cli("run", "--loans", "data/loans.csv", "--valuations", "data/valuations.csv",
        "--config", "data/example.toml", "--out", str(out), "-q", cwd=ROOT)
    return out
