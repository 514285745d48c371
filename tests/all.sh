#!/usr/bin/env bash
# Every test: the Rust crate's (`cargo test --release`), then the Python package's (pytest, in a
# virtualenv this script makes and reuses). The build and the virtualenv live outside the clone, so a
# warm machine reuses them; the extension shares the crate's polars build (one build, not two).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/underwater-target}"
cargo test --release

venv="${UNDERWATER_VENV:-$HOME/.cache/underwater-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# pyspark (with pyarrow and pandas, which its mapInArrow needs) runs the Spark tests on a local cluster with
# the machine's JDK 17.
"$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.9,<2" "polars>=1.20" pytest \
  "pyspark>=4,<5" pyarrow "pandas>=2.2,<3"
# The package as a user gets it, but editable: `pip install ./python` builds the same wheel.
(cd python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --quiet)
export UNDERWATER_BIN="$CARGO_TARGET_DIR/release/underwater"
"$venv/bin/python" -m pytest -q python/tests
