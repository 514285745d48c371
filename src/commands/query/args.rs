//! What a query is asked: its source, SQL or shorthands, format and output; and the scope its SQL is
//! checked against.

use crate::config::Config;
use crate::error::Error;
use polars::prelude::PolarsError;
use std::path::PathBuf;

/// Output formats of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns for people: money right-aligned with thousands separators
    Table,
    Csv,
    Json,
    Markdown,
    Parquet,
}

/// Where the `accounts` table comes from.
pub enum Source {
    /// Finished runs' output directories (one or more).
    Runs(Vec<PathBuf>),
    /// Raw inputs, computed as `run` does.
    Inputs(Box<Config>),
}

/// A query as the command line gave it.
pub struct QueryArgs {
    pub source: Source,
    pub sql: Option<String>,
    pub filter: Option<String>,
    pub by: Vec<String>,
    pub top: Option<usize>,
    pub order_by: Option<String>,
    pub format: QueryFormat,
    pub output: Option<PathBuf>,
}

pub(super) fn internal(e: PolarsError) -> Error {
    Error::internal(e)
}

/// What SQL is checked and rewritten against: the columns of `accounts`, and the columns whose labels
/// have a natural order.
pub(super) struct Scope {
    pub(super) columns: Vec<String>,
    pub(super) ordered: Vec<(String, Vec<String>)>,
}

pub const QUERY_HELP: &str = "Tables: accounts (every figure of `run`, with the loan's own columns), and with raw
inputs also loans and valuations. Money columns are exact decimals: SUM, MIN, MAX and GROUP BY on them
are exact to the cent.

Examples:
  underwater query --run out \"SELECT state, SUM(negative_equity) AS ne FROM accounts GROUP BY state ORDER BY ne DESC\"
  underwater query --run out --where \"days_past_due >= 60\" --top 20 --order-by expected_deficiency
  underwater query --run out --by dealer_id,new_used --where \"term_months >= 72\"
  underwater query --loans data/loans.csv --valuations data/valuations.csv --as-of 2025-06-30 --by state";

/// `underwater query`'s flags.
#[derive(clap::Args, Debug)]
pub struct QueryCmd {
    /// SQL over the tables accounts, loans, valuations
    #[arg(value_name = "SQL")]
    pub sql: Option<String>,
    /// A finished run's output directory: reads accounts.parquet or accounts.csv, recomputes nothing.
    /// Repeat it, or give a quoted pattern ('nightly/*'), to query several runs at once: accounts then
    /// holds every run's rows with their `as_of`
    #[arg(long, value_name = "DIR", conflicts_with_all = ["loans", "valuations", "tape", "as_of", "config"], required_unless_present = "loans")]
    pub run: Vec<PathBuf>,
    /// Loans CSV (or a tape with --tape): the figures are computed exactly as `run` does
    #[arg(long, value_name = "LOANS.csv")]
    pub loans: Option<PathBuf>,
    /// The loans file is a loan tape in this format
    #[arg(long, value_enum, value_name = "FORMAT", requires = "loans")]
    pub tape: Option<crate::input::tape::Tape>,
    /// Valuations CSV
    #[arg(long, value_name = "VALUATIONS.csv", requires = "loans")]
    pub valuations: Option<PathBuf>,
    /// Valuation date for raw inputs (YYYY-MM-DD)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,
    /// TOML config for raw inputs, as for `run`
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Shorthand filter: a SQL condition on accounts columns, e.g. "state = 'TX' AND term_months >= 72"
    #[arg(long = "where", value_name = "CONDITION")]
    pub filter: Option<String>,
    /// Shorthand group-by: the summary metrics per group of these columns, then TOTAL
    #[arg(long, value_name = "COL,COL", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Shorthand: only the N rows with the largest --order-by values
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Shorthand: sort by this column, largest first
    #[arg(long, value_name = "COL")]
    pub order_by: Option<String>,
    /// Output format (default: table on a terminal, CSV when piped, or from the -o file's extension)
    #[arg(long, value_enum)]
    pub format: Option<QueryFormat>,
    /// Write the answer to this file (atomically) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub workers: crate::commands::args::Workers,
}
