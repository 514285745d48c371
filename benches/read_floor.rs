//! The read floor for benchmarks: polars reading both input CSVs into memory and nothing else.
//!
//! `underwater run` is compared against this in `benches/compare.sh` (BENCHMARKS.md): no job on these
//! files can be faster than reading them. A bench target rather than a subcommand, so the product
//! binary ships nothing only benchmarks use:
//! `cargo bench --bench read_floor -- LOANS.csv VALUATIONS.csv` (compare.sh runs the built binary).

use polars::prelude::{CsvReadOptions, SerReader};
use std::path::Path;

/// Reads one CSV with polars' default options; returns its row count.
fn read(path: &Path) -> Result<usize, String> {
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map(|df| df.height())
        .map_err(|e| format!("polars could not read {}: {e}", path.display()))
}

fn main() {
    // `cargo bench` passes `--bench` first; the two paths are the other arguments.
    let paths: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [loans, valuations] = &paths[..] else {
        eprintln!("usage: read_floor LOANS.csv VALUATIONS.csv");
        std::process::exit(2);
    };
    match (read(Path::new(loans)), read(Path::new(valuations))) {
        (Ok(l), Ok(v)) => println!("polars read {l} loan rows and {v} valuation rows"),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
