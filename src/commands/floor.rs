//! The read floor for benchmarks: polars reading both input CSVs into memory and nothing else.
//!
//! `underwater run` is compared against this (BENCHMARKS.md): no job on these files can be faster than
//! reading them. Hidden from `--help`; run as `underwater floor --loans L --valuations V`.

use anyhow::Result;
use polars::prelude::{CsvReadOptions, SerReader};
use std::path::Path;

/// Reads one CSV with polars' default options; returns its row count.
fn read(path: &Path) -> Result<usize> {
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| anyhow::anyhow!("polars could not read {}: {e}", path.display()))?;
    Ok(df.height())
}

/// Reads both files; returns (loan rows, valuation rows).
pub fn read_both(loans: &Path, valuations: &Path) -> Result<(usize, usize)> {
    Ok((read(loans)?, read(valuations)?))
}
