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
